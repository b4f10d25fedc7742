//! The AWS config files (`~/.aws/credentials`, `~/.aws/config`), for what
//! the environment does not give: keys, region and endpoint of the profile
//! `AWS_PROFILE` names (or `default`). The environment always wins.

use std::collections::HashMap;
use std::path::PathBuf;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

/// The `key = value` pairs of each `[section]` of an INI file.
fn sections(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(current.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    out
}

fn file(var: &str, default: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join(default)))
}

/// The settings of `profile` from both files: the credentials file's
/// `[name]`, then the config file's `[profile name]` (or `[default]`).
pub fn profile_settings(profile: &str) -> HashMap<String, String> {
    let read = |p: Option<PathBuf>| p.and_then(|p| std::fs::read_to_string(p).ok());
    let mut out = HashMap::new();
    if let Some(text) = read(file("AWS_CONFIG_FILE", "config")) {
        let mut s = sections(&text);
        let name = if profile == "default" {
            "default".to_owned()
        } else {
            format!("profile {profile}")
        };
        out.extend(s.remove(&name).unwrap_or_default());
    }
    if let Some(text) = read(file("AWS_SHARED_CREDENTIALS_FILE", "credentials")) {
        out.extend(sections(&text).remove(profile).unwrap_or_default());
    }
    out
}

/// Fills in what the environment left unset from the profile.
pub fn apply_profile(mut b: AmazonS3Builder) -> AmazonS3Builder {
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let s = profile_settings(&profile);
    let pairs = [
        ("aws_access_key_id", AmazonS3ConfigKey::AccessKeyId),
        ("aws_secret_access_key", AmazonS3ConfigKey::SecretAccessKey),
        ("aws_session_token", AmazonS3ConfigKey::Token),
        ("region", AmazonS3ConfigKey::Region),
        ("endpoint_url", AmazonS3ConfigKey::Endpoint),
    ];
    for (name, key) in pairs {
        if b.get_config_value(&key).is_none() {
            if let Some(v) = s.get(name) {
                b = b.with_config(key, v);
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::sections;

    #[test]
    fn ini_sections() {
        let s = sections(
            "# c\n[default]\naws_access_key_id = AK\n[profile other]\nRegion=eu-west-1\n; x\n",
        );
        assert_eq!(s["default"]["aws_access_key_id"], "AK");
        assert_eq!(s["profile other"]["region"], "eu-west-1");
    }
}
