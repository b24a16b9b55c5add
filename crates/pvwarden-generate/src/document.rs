//! The YAML stream the generators print: objects with comments that say why.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

/// The widest comment line written, so that the stream reads well in a terminal.
const COMMENT_WIDTH: usize = 98;

/// One object to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    /// A PersistentVolume, new or changed.
    Volume(Box<PersistentVolume>),
    /// A new PersistentVolumeClaim.
    Claim(Box<PersistentVolumeClaim>),
}

/// An object and the comments printed above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Sentences explaining the choices made in the object.
    pub comments: Vec<String>,
    /// The object.
    pub manifest: Manifest,
}

impl Manifest {
    /// `PersistentVolume/name` or `PersistentVolumeClaim/namespace/name`.
    pub fn describe(&self) -> String {
        match self {
            Manifest::Volume(pv) => {
                format!(
                    "PersistentVolume/{}",
                    pv.metadata.name.as_deref().unwrap_or("")
                )
            }
            Manifest::Claim(pvc) => format!(
                "PersistentVolumeClaim/{}/{}",
                pvc.metadata.namespace.as_deref().unwrap_or(""),
                pvc.metadata.name.as_deref().unwrap_or("")
            ),
        }
    }

    fn yaml(&self) -> Result<String, serde_saphyr::SerializeError> {
        // Plain scalars only: a long rootPath folded into a `>-` block is valid
        // YAML, but hard to compare with what Ceph prints.
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = false;
        match self {
            Manifest::Volume(pv) => serde_saphyr::to_string_with_options(pv, options),
            Manifest::Claim(pvc) => serde_saphyr::to_string_with_options(pvc, options),
        }
    }
}

/// Writes a header and the documents as one YAML stream, ready for `kubectl apply -f -`.
///
/// # Errors
///
/// Returns the serializer's error; k8s-openapi objects always serialize, so
/// this does not happen in practice.
pub fn render(
    header: &[String],
    documents: &[Document],
) -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for line in header {
        comment(&mut out, line);
    }
    for (i, document) in documents.iter().enumerate() {
        if i > 0 || !header.is_empty() {
            out.push_str("---\n");
        }
        for line in &document.comments {
            comment(&mut out, line);
        }
        out.push_str(&document.manifest.yaml()?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// Appends `text` as `#` lines, wrapped at word boundaries.
pub fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > COMMENT_WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_comments_wrap_within_the_width() {
        let mut out = String::new();
        comment(&mut out, &"word ".repeat(60));
        assert!(out.lines().count() > 1);
        assert!(out
            .lines()
            .all(|l| l.len() <= COMMENT_WIDTH && l.starts_with("# ")));
    }
}
