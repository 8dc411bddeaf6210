//! A file a renderer made ([`Artifact`]) and where renderers put them ([`Files`]): the host
//! writes each into a run or report directory as it comes (this crate writes no files).

use anyhow::Result;

/// A file a renderer made, by name, for the host to write into a run or report directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// The file name (no directory).
    pub name: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

impl Artifact {
    /// A file named `name` holding `bytes`.
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Artifact {
        Artifact {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

/// Where a renderer puts the files it makes, one at a time, so a large plot can be written and
/// dropped before the next is drawn.
pub trait Files {
    /// Takes one file.
    fn put(&mut self, file: Artifact) -> Result<()>;
}

/// Keeps them in memory (tests, and callers that want the bytes).
impl Files for Vec<Artifact> {
    fn put(&mut self, file: Artifact) -> Result<()> {
        self.push(file);
        Ok(())
    }
}
