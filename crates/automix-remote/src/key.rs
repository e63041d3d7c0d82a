//! The API key: a redacting newtype and its storage (OS keychain, else a private file).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An API key. Its `Debug` prints `<redacted>` and it has no `Display` or `Serialize`, so it
/// cannot end up in logs, errors, the database or anything sent to the UI by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key, trimming surrounding whitespace (keys are often pasted with a newline).
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into().trim().to_string())
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where a key was stored or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    /// The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
    Keychain,
    /// A file only the user can read; the warning should be shown to the user.
    File { path: PathBuf, warning: String },
}

/// Errors storing or loading the key. They never contain the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The key file could not be read or written.
    #[error("cannot access the API key file {path}: {source}; check the folder exists and is yours")]
    File { path: PathBuf, source: std::io::Error },
    /// The keychain refused for a reason other than being absent.
    #[error("the OS keychain refused the API key operation: {0}; unlock the keychain or remove the entry and save the key again")]
    Keychain(String),
}

/// Stores one API key per account name, in the OS keychain when there is one.
#[derive(Debug, Clone)]
pub struct KeyStore {
    account: String,
    fallback_file: PathBuf,
    use_keychain: bool,
}

const KEYCHAIN_SERVICE: &str = "automix";

impl KeyStore {
    /// A store that prefers the OS keychain and falls back to `fallback_file` (mode 0600).
    /// `account` names the key, e.g. the provider host.
    pub fn new(account: impl Into<String>, fallback_file: impl Into<PathBuf>) -> Self {
        KeyStore { account: account.into(), fallback_file: fallback_file.into(), use_keychain: true }
    }

    /// A store that only uses the private file (for machines known to lack a keychain, and tests).
    pub fn file_only(fallback_file: impl Into<PathBuf>) -> Self {
        KeyStore { account: String::new(), fallback_file: fallback_file.into(), use_keychain: false }
    }

    /// Saves the key; says where it went.
    pub fn save(&self, key: &ApiKey) -> Result<KeyLocation, KeyStoreError> {
        if let Some(entry) = self.keychain_entry() {
            match entry.set_password(key.expose()) {
                Ok(()) => {
                    // A stale file copy would otherwise shadow nothing but still sit on disk.
                    remove_file_if_present(&self.fallback_file)?;
                    return Ok(KeyLocation::Keychain);
                }
                Err(error) if keychain_unavailable(&error) => {}
                Err(error) => return Err(KeyStoreError::Keychain(error.to_string())),
            }
        }
        write_private_file(&self.fallback_file, key)?;
        Ok(self.file_location())
    }

    /// Loads the key from the keychain, else from the file; `None` when neither has one.
    pub fn load(&self) -> Result<Option<(ApiKey, KeyLocation)>, KeyStoreError> {
        if let Some(entry) = self.keychain_entry() {
            match entry.get_password() {
                Ok(secret) => return Ok(Some((ApiKey::new(secret), KeyLocation::Keychain))),
                Err(keyring::Error::NoEntry) => {}
                Err(error) if keychain_unavailable(&error) => {}
                Err(error) => return Err(KeyStoreError::Keychain(error.to_string())),
            }
        }
        match std::fs::read_to_string(&self.fallback_file) {
            Ok(text) if !text.trim().is_empty() => Ok(Some((ApiKey::new(text), self.file_location()))),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(KeyStoreError::File { path: self.fallback_file.clone(), source }),
        }
    }

    /// Removes the key from the keychain and the file.
    pub fn delete(&self) -> Result<(), KeyStoreError> {
        if let Some(entry) = self.keychain_entry() {
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(error) if keychain_unavailable(&error) => {}
                Err(error) => return Err(KeyStoreError::Keychain(error.to_string())),
            }
        }
        remove_file_if_present(&self.fallback_file)
    }

    fn keychain_entry(&self) -> Option<keyring::Entry> {
        if !self.use_keychain {
            return None;
        }
        keyring::Entry::new(KEYCHAIN_SERVICE, &self.account).ok()
    }

    fn file_location(&self) -> KeyLocation {
        KeyLocation::File {
            path: self.fallback_file.clone(),
            warning: format!(
                "No OS keychain is available, so the API key is stored in {} (readable only by you). \
                 Anyone with access to your user account can read it; install and unlock a Secret Service \
                 keyring (e.g. gnome-keyring) to keep it in the keychain instead.",
                self.fallback_file.display()
            ),
        }
    }
}

/// The keychain is missing or unreachable (e.g. no Secret Service on the session bus).
fn keychain_unavailable(error: &keyring::Error) -> bool {
    matches!(error, keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_))
}

fn write_private_file(path: &Path, key: &ApiKey) -> Result<(), KeyStoreError> {
    let file_error = |source| KeyStoreError::File { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(file_error)?;
    }
    // Write a fresh 0600 file and rename it over the old one so the key is never briefly
    // readable with wider permissions.
    let staging = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&staging).map_err(file_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(file_error)?;
    }
    file.write_all(key.expose().as_bytes()).map_err(file_error)?;
    file.sync_all().map_err(file_error)?;
    std::fs::rename(&staging, path).map_err(file_error)
}

fn remove_file_if_present(path: &Path) -> Result<(), KeyStoreError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(KeyStoreError::File { path: path.to_path_buf(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = ApiKey::new("sk-live-abcdef123456\n");
        assert_eq!(key.expose(), "sk-live-abcdef123456");
        let shown = format!("{key:?} {:?}", Some(key.clone()));
        assert!(!shown.contains("abcdef"), "{shown}");
    }

    #[test]
    fn file_store_round_trips_with_private_permissions_and_warns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets").join("api-key");
        let store = KeyStore::file_only(&path);
        assert!(store.load().unwrap().is_none());
        let location = store.save(&ApiKey::new("sk-file-key")).unwrap();
        assert!(matches!(&location, KeyLocation::File { warning, .. } if warning.contains("readable only by you")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let (loaded, _) = store.load().unwrap().unwrap();
        assert_eq!(loaded.expose(), "sk-file-key");
        store.delete().unwrap();
        assert!(store.load().unwrap().is_none());
    }
}
