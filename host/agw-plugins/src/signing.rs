//! Plugin signatures: opt-in and fail-closed.
//!
//! A plugin `<name>.wasm` may come with a detached `<name>.wasm.sig`: an Ed25519 signature over
//! the component's sha256. The gateway trusts the public keys of
//! `ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS` ([`TrustedKeys`]); [`check`] says what a component's
//! signature is worth against them ([`SignatureStatus`]), and only a valid signature by a
//! trusted key counts ([`SignatureStatus::is_trusted`]).
//!
//! Formats, all text:
//! - a public key is `ed25519:<base64 of 32 bytes>`; a trusted key list separates them with
//!   commas and/or whitespace;
//! - the secret key file ([`keygen`]) holds one `ed25519-secret:<base64 of the 32-byte seed>`
//!   line (lines starting with `#` are comments);
//! - the signature file ([`sign`]) is
//!   ```text
//!   abstractgateway-plugin-signature v1
//!   key ed25519:<base64 of 32 bytes>
//!   sha256 <64 hex digits>
//!   sig <base64 of 64 bytes>
//!   ```
//!
//! What is signed is `abstractgateway-plugin-v1\0` followed by the component's 32-byte sha256:
//! a domain-separated message over the digest (not Ed25519ph, which prehashes with SHA-512).
//! Signatures are checked with `verify_strict`, which rejects weak keys and malleable
//! signatures. The `key` line only says which key signed: a signature counts only when a
//! trusted key verifies it.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{
    PUBLIC_KEY_LENGTH, SECRET_KEY_LENGTH, SIGNATURE_LENGTH, Signature, Signer, SigningKey, VerifyingKey,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The environment variable that lists the trusted public keys.
pub const TRUSTED_KEYS_VAR: &str = "ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS";

/// The largest signature file [`check`] accepts (a real one is about 250 bytes).
pub const MAX_SIGNATURE_BYTES: usize = 4096;

/// Prefix of every signed message, so a plugin signature means nothing anywhere else.
const DOMAIN: &[u8] = b"abstractgateway-plugin-v1\0";
const HEADER: &str = "abstractgateway-plugin-signature v1";
const PUBLIC_PREFIX: &str = "ed25519:";
const SECRET_PREFIX: &str = "ed25519-secret:";

/// Why keys could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// An item of a trusted key list is not a usable Ed25519 public key.
    #[error("trusted key #{position} ({item}) is not usable: {reason}")]
    TrustedKey {
        /// 1-based position of the item in the list.
        position: usize,
        /// The item as written (shortened when long).
        item: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The text is not a secret key made by `abstractgateway plugins keygen`.
    #[error("not an abstractgateway plugin secret key: {0}")]
    SecretKey(String),
    /// The operating system could not provide randomness for a new key.
    #[error("the operating system gave no randomness for a new key: {0}")]
    Randomness(String),
}

/// The public keys whose signatures the gateway trusts (`ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<VerifyingKey>,
}

impl TrustedKeys {
    /// Reads `ed25519:<base64 of 32 bytes>` items separated by commas and/or whitespace
    /// (duplicates count once). Empty text is the empty set; any bad item fails the whole list,
    /// with an error naming its position, so a typo never trusts less (or more) than meant.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let mut keys = Vec::new();
        let items = text.split(|c: char| c == ',' || c.is_whitespace()).filter(|item| !item.is_empty());
        for (index, item) in items.enumerate() {
            let key = parse_public(item).map_err(|reason| SigningError::TrustedKey {
                position: index + 1,
                item: shorten(item),
                reason: reason.to_owned(),
            })?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(Self { keys })
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many distinct keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

impl FromStr for TrustedKeys {
    type Err = SigningError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// The keys as they are written in `ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS`, comma-separated.
impl fmt::Display for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(public_text).collect();
        f.write_str(&keys.join(","))
    }
}

/// What a component's signature is worth against the trusted keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// There is no signature file.
    Unsigned,
    /// A trusted key signed exactly these bytes.
    Valid {
        /// The trusted key that verified it, `ed25519:<base64>`.
        key: String,
    },
    /// A correct signature, by a key that is not trusted.
    UnknownKey {
        /// The key that signed, `ed25519:<base64>`.
        key: String,
    },
    /// The signature file is malformed, is for other bytes, or does not verify.
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

impl SignatureStatus {
    /// Only a valid signature by a trusted key is trusted.
    pub fn is_trusted(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// One sentence for errors and listings, e.g. "signed by trusted key ed25519:…".
    pub fn describe(&self) -> String {
        match self {
            Self::Unsigned => "not signed: there is no .wasm.sig file next to it".to_owned(),
            Self::Valid { key } => format!("signed by trusted key {key}"),
            Self::UnknownKey { key } => format!("signed by {key}, which is not in {TRUSTED_KEYS_VAR}"),
            Self::Invalid { reason } => format!("bad signature: {reason}"),
        }
    }
}

/// A new key pair: the secret key file's text (keep it private) and the public key line
/// `ed25519:<base64>` to put in `ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS`.
pub fn keygen() -> Result<(String, String), SigningError> {
    // ed25519-dalek's `generate` wants a rand_core 0.6 RNG, which the workspace's rand does
    // not provide; a key is just 32 random bytes anyway.
    let mut seed = [0u8; SECRET_KEY_LENGTH];
    getrandom::fill(&mut seed).map_err(|e| SigningError::Randomness(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    let public = public_text(&key.verifying_key());
    let secret = format!(
        "# abstractgateway plugin signing key: keep this file private.\n# public key: {public}\n{SECRET_PREFIX}{}\n",
        BASE64.encode(key.as_bytes())
    );
    Ok((secret, public))
}

/// Signs a component with the key in `secret_key_text` (a file made by [`keygen`]): the text
/// of its detached `<name>.wasm.sig`.
pub fn sign(secret_key_text: &str, wasm: &[u8]) -> Result<String, SigningError> {
    let key = parse_secret(secret_key_text)?;
    let digest = Sha256::digest(wasm);
    let signature = key.sign(&message(&digest));
    Ok(format!(
        "{HEADER}\nkey {}\nsha256 {}\nsig {}\n",
        public_text(&key.verifying_key()),
        hex::encode(digest),
        BASE64.encode(signature.to_bytes())
    ))
}

/// Checks a component against its signature file's text (`None`: there is none).
pub fn check(wasm: &[u8], signature: Option<&str>, trusted: &TrustedKeys) -> SignatureStatus {
    check_digest(&Sha256::digest(wasm).into(), signature, trusted)
}

/// [`check`] for a component whose sha256 is already known (the loader hashes each file once).
pub fn check_digest(digest: &[u8; 32], signature: Option<&str>, trusted: &TrustedKeys) -> SignatureStatus {
    let Some(text) = signature else {
        return SignatureStatus::Unsigned;
    };
    let file = match SignatureFile::parse(text) {
        Ok(file) => file,
        Err(reason) => {
            return SignatureStatus::Invalid { reason: format!("the signature file is malformed: {reason}") };
        }
    };
    let actual = hex::encode(digest);
    if file.sha256 != actual {
        return SignatureStatus::Invalid {
            reason: format!("signature is for sha256 {}, the file is {actual}", file.sha256),
        };
    }
    let message = message(digest);
    if let Some(key) = trusted.keys.iter().find(|key| key.verify_strict(&message, &file.signature).is_ok()) {
        return SignatureStatus::Valid { key: public_text(key) };
    }
    let named = public_text(&file.key);
    if file.key.verify_strict(&message, &file.signature).is_ok() {
        SignatureStatus::UnknownKey { key: named }
    } else {
        SignatureStatus::Invalid { reason: format!("the signature does not verify with {named} nor any trusted key") }
    }
}

/// Lowercase hex sha256 of a component, as the signature file names it.
pub fn sha256_hex(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

/// Where the detached signature of `wasm_path` lives: the same path with `.sig` appended.
pub fn signature_path(wasm_path: &Path) -> PathBuf {
    let mut path = wasm_path.as_os_str().to_owned();
    path.push(".sig");
    PathBuf::from(path)
}

/// Reads the signature file next to `wasm_path` for [`check`]: `None` when there is none. Reads
/// no more than [`check`] accepts; bytes that are not UTF-8 are replaced, so `check` reports
/// such a file as malformed.
pub fn read_signature(wasm_path: &Path) -> std::io::Result<Option<String>> {
    let file = match std::fs::File::open(signature_path(wasm_path)) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut bytes = Vec::new();
    file.take(MAX_SIGNATURE_BYTES as u64 + 1).read_to_end(&mut bytes)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// A parsed signature file; `key` is the signer it claims.
struct SignatureFile {
    key: VerifyingKey,
    sha256: String,
    signature: Signature,
}

impl SignatureFile {
    fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_SIGNATURE_BYTES {
            return Err(format!("it is larger than {MAX_SIGNATURE_BYTES} bytes"));
        }
        let mut lines = text.lines().map(str::trim_end).filter(|line| !line.is_empty());
        if lines.next() != Some(HEADER) {
            return Err(format!("the first line is not `{HEADER}`"));
        }
        let key = field(&mut lines, "key")?;
        let sha256 = field(&mut lines, "sha256")?.to_ascii_lowercase();
        let signature = field(&mut lines, "sig")?;
        if lines.next().is_some() {
            return Err("there are lines after `sig`".to_owned());
        }
        let key = parse_public(key).map_err(|reason| format!("the key line: {reason}"))?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the sha256 line is not 64 hex digits".to_owned());
        }
        let signature: [u8; SIGNATURE_LENGTH] =
            decode_exact(signature).ok_or("the sig line is not 64 bytes of base64")?;
        Ok(Self { key, sha256, signature: Signature::from_bytes(&signature) })
    }
}

/// The value of the next line, which must be `<name> <value>`.
fn field<'a>(lines: &mut impl Iterator<Item = &'a str>, name: &str) -> Result<&'a str, String> {
    lines
        .next()
        .and_then(|line| line.strip_prefix(name))
        .and_then(|rest| rest.strip_prefix(' '))
        .map(str::trim)
        .ok_or_else(|| format!("expected a `{name} ...` line"))
}

fn message(digest: &[u8]) -> Vec<u8> {
    [DOMAIN, digest].concat()
}

fn public_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", BASE64.encode(key.as_bytes()))
}

fn parse_public(text: &str) -> Result<VerifyingKey, &'static str> {
    let encoded = text.strip_prefix(PUBLIC_PREFIX).ok_or("expected `ed25519:<base64 of 32 bytes>`")?;
    let bytes: [u8; PUBLIC_KEY_LENGTH] = decode_exact(encoded).ok_or("expected 32 bytes of base64 after `ed25519:`")?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "not an Ed25519 public key")?;
    if key.is_weak() {
        return Err("a weak (small-order) key, which verifies forged signatures");
    }
    Ok(key)
}

fn parse_secret(text: &str) -> Result<SigningKey, SigningError> {
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'));
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(SigningError::SecretKey(format!("expected one `{SECRET_PREFIX}<base64>` line")));
    };
    let encoded = line
        .strip_prefix(SECRET_PREFIX)
        .ok_or_else(|| SigningError::SecretKey(format!("the key line does not start with `{SECRET_PREFIX}`")))?;
    let mut seed: [u8; SECRET_KEY_LENGTH] = decode_exact(encoded)
        .ok_or_else(|| SigningError::SecretKey(format!("expected 32 bytes of base64 after `{SECRET_PREFIX}`")))?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

/// Decodes base64 that must be exactly `N` bytes, without a heap copy (secret seeds included).
fn decode_exact<const N: usize>(encoded: &str) -> Option<[u8; N]> {
    // Room for what any input that could be N bytes decodes to, so a longer one is caught by
    // its length rather than by the decoder.
    let mut buffer = [0u8; 128];
    let decoded = match BASE64.decode_slice(encoded, &mut buffer) {
        Ok(n) if n == N => buffer.get(..N).and_then(|bytes| <[u8; N]>::try_from(bytes).ok()),
        _ => None,
    };
    buffer.fill(0);
    decoded
}

fn shorten(item: &str) -> String {
    const MAX: usize = 60;
    if item.chars().count() <= MAX {
        item.to_owned()
    } else {
        format!("{}…", item.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WASM: &[u8] = b"\0asm\x0d\0\x01\0 pretend component";

    fn pair() -> (String, String) {
        keygen().unwrap()
    }

    fn trusted(keys: &[&str]) -> TrustedKeys {
        TrustedKeys::parse(&keys.join(",")).unwrap()
    }

    /// The signature file with one line replaced.
    fn with_line(sig: &str, prefix: &str, line: &str) -> String {
        sig.lines().map(|l| if l.starts_with(prefix) { line } else { l }).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_signature_verifies_with_its_trusted_key() {
        let (secret, public) = pair();
        assert!(public.starts_with("ed25519:"));
        let sig = sign(&secret, WASM).unwrap();
        assert!(sig.starts_with("abstractgateway-plugin-signature v1\n"), "{sig}");
        assert!(sig.contains(&format!("sha256 {}\n", sha256_hex(WASM))), "{sig}");
        let (_, other) = pair();
        let status = check(WASM, Some(&sig), &trusted(&[&other, &public]));
        assert_eq!(status, SignatureStatus::Valid { key: public.clone() });
        assert!(status.is_trusted());
        assert!(status.describe().contains(&public));
        // Signing is deterministic, and CRLF line ends (an editor's) still parse.
        assert_eq!(sign(&secret, WASM).unwrap(), sig);
        assert!(check(WASM, Some(&sig.replace('\n', "\r\n")), &trusted(&[&public])).is_trusted());
    }

    #[test]
    fn a_correct_signature_by_an_untrusted_key_is_unknown() {
        let (secret, public) = pair();
        let (_, other) = pair();
        let sig = sign(&secret, WASM).unwrap();
        for keys in [TrustedKeys::default(), trusted(&[&other])] {
            let status = check(WASM, Some(&sig), &keys);
            assert_eq!(status, SignatureStatus::UnknownKey { key: public.clone() });
            assert!(!status.is_trusted());
            assert!(status.describe().contains(TRUSTED_KEYS_VAR), "{}", status.describe());
        }
    }

    #[test]
    fn the_key_line_is_only_a_hint() {
        let (secret, signer) = pair();
        let (_, other) = pair();
        let sig = sign(&secret, WASM).unwrap();
        // Naming a trusted key does not make another key's signature trusted...
        let claims_other = with_line(&sig, "key ", &format!("key {other}"));
        let status = check(WASM, Some(&claims_other), &trusted(&[&other]));
        assert!(matches!(status, SignatureStatus::Invalid { .. }), "{status:?}");
        // ...and a trusted signer is found whatever the line says.
        assert_eq!(check(WASM, Some(&claims_other), &trusted(&[&signer])), SignatureStatus::Valid { key: signer });
    }

    #[test]
    fn a_signature_for_other_bytes_names_both_digests() {
        let (secret, public) = pair();
        let sig = sign(&secret, WASM).unwrap();
        let mut tampered = WASM.to_vec();
        tampered.push(0);
        let status = check(&tampered, Some(&sig), &trusted(&[&public]));
        let reason = format!("signature is for sha256 {}, the file is {}", sha256_hex(WASM), sha256_hex(&tampered));
        assert_eq!(status, SignatureStatus::Invalid { reason });
        assert!(!status.is_trusted());
    }

    #[test]
    fn a_tampered_signature_is_invalid() {
        let (secret, public) = pair();
        let sig = sign(&secret, WASM).unwrap();
        let encoded = sig.lines().find_map(|l| l.strip_prefix("sig ")).unwrap();
        let mut bytes = BASE64.decode(encoded).unwrap();
        bytes[10] ^= 1;
        let flipped = with_line(&sig, "sig ", &format!("sig {}", BASE64.encode(&bytes)));
        let status = check(WASM, Some(&flipped), &trusted(&[&public]));
        assert!(
            matches!(&status, SignatureStatus::Invalid { reason } if reason.contains("does not verify")),
            "{status:?}"
        );
        // The digest line edited to match other bytes does not help either.
        let other = b"other component";
        let moved = with_line(&sig, "sha256 ", &format!("sha256 {}", sha256_hex(other)));
        assert!(matches!(check(other, Some(&moved), &trusted(&[&public])), SignatureStatus::Invalid { .. }));
    }

    #[test]
    fn garbage_signature_files_are_invalid() {
        let (secret, public) = pair();
        let sig = sign(&secret, WASM).unwrap();
        let keys = trusted(&[&public]);
        let garbage = [
            String::new(),
            "hello".to_owned(),
            "abstractgateway-plugin-signature v1\n".to_owned(),
            sig.replace("v1", "v2"),
            format!("{sig}extra line\n"),
            with_line(&sig, "key ", "key ed25519:AAAA"),
            with_line(&sig, "sha256 ", "sha256 abc"),
            with_line(&sig, "sig ", "sig !!!"),
            with_line(&sig, "sig ", "signature AAAA"),
            format!("{sig}{}", "\n".repeat(MAX_SIGNATURE_BYTES)),
        ];
        for text in &garbage {
            let status = check(WASM, Some(text), &keys);
            assert!(
                matches!(&status, SignatureStatus::Invalid { reason } if reason.contains("malformed")),
                "{text:?}: {status:?}"
            );
        }
        assert_eq!(check(WASM, None, &keys), SignatureStatus::Unsigned);
        assert!(!SignatureStatus::Unsigned.is_trusted());
    }

    #[test]
    fn trusted_keys_are_separated_by_commas_or_whitespace() {
        let (_, a) = pair();
        let (_, b) = pair();
        let (_, c) = pair();
        let keys = TrustedKeys::parse(&format!(" {a},{b}\n\t{c} ,, {a} ")).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys.to_string(), format!("{a},{b},{c}"));
        assert_eq!(keys.to_string().parse::<TrustedKeys>().unwrap(), keys);
        assert!(TrustedKeys::parse("").unwrap().is_empty());
        assert!(TrustedKeys::parse(" ,\n ").unwrap().is_empty());
    }

    #[test]
    fn a_bad_trusted_key_names_its_position() {
        let (_, good) = pair();
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = format!("ed25519:{}", BASE64.encode(identity));
        let cases = [
            (format!("{good},nope"), 2, "expected `ed25519:"),
            (format!("{good} {good} ed25519:AAAA"), 3, "32 bytes"),
            (format!("ed25519:{}", hex::encode([7u8; 32])), 1, "32 bytes"),
            (format!("{good},{weak}"), 2, "weak"),
        ];
        for (text, position, why) in cases {
            let error = TrustedKeys::parse(&text).unwrap_err();
            assert!(
                matches!(&error, SigningError::TrustedKey { position: p, .. } if *p == position),
                "{text}: {error}"
            );
            let message = error.to_string();
            assert!(message.contains(&format!("#{position}")) && message.contains(why), "{message}");
        }
    }

    #[test]
    fn secret_key_files_are_checked() {
        let (secret, public) = pair();
        assert!(secret.contains(&public), "the file names its public key");
        let bare = secret.lines().find(|l| l.starts_with(SECRET_PREFIX)).unwrap();
        assert_eq!(sign(bare, WASM).unwrap(), sign(&secret, WASM).unwrap());
        for bad in ["", "# only a comment", "ed25519-secret:AAAA", &format!("{bare}\n{bare}"), &public] {
            assert!(matches!(sign(bad, WASM), Err(SigningError::SecretKey(_))), "{bad}");
        }
        let error = sign(&format!("{bare}x"), WASM).unwrap_err().to_string();
        assert!(!error.contains(bare.trim_start_matches(SECRET_PREFIX)), "never echo the secret: {error}");
    }

    #[test]
    fn statuses_serialize_with_a_kebab_case_tag() {
        let json = |s: SignatureStatus| serde_json::to_value(s).unwrap();
        assert_eq!(json(SignatureStatus::Unsigned), serde_json::json!({"status": "unsigned"}));
        assert_eq!(
            json(SignatureStatus::UnknownKey { key: "ed25519:k".into() }),
            serde_json::json!({"status": "unknown-key", "key": "ed25519:k"})
        );
        assert_eq!(json(SignatureStatus::Invalid { reason: "r".into() })["status"], "invalid");
    }

    #[test]
    fn the_signature_file_sits_next_to_the_component() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("p.wasm");
        assert_eq!(signature_path(&wasm), dir.path().join("p.wasm.sig"));
        assert_eq!(read_signature(&wasm).unwrap(), None);
        std::fs::write(signature_path(&wasm), b"text\xff").unwrap();
        assert_eq!(read_signature(&wasm).unwrap().as_deref(), Some("text\u{fffd}"));
    }
}
