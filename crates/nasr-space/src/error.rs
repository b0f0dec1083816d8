use thiserror::Error;

/// What can go wrong when building a space or reading or checking an architecture.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpaceError {
    /// The architecture string does not have the space's canonical form.
    #[error(
        "bad architecture string {input:?}: {problem} (token {token:?} at position {position})"
    )]
    BadToken {
        /// The whole string that was parsed.
        input: String,
        /// The offending token.
        token: String,
        /// Byte offset of the token in `input`.
        position: usize,
        /// What was expected instead.
        problem: String,
    },
    /// The string has the wrong number of parts.
    #[error("bad architecture string {input:?}: {problem}")]
    BadShape {
        /// The whole string that was parsed.
        input: String,
        /// What was wrong with its shape.
        problem: String,
    },
    /// The architecture has the wrong number of choices, or a choice out of range.
    #[error("architecture {choices:?} is not in space {space}: {problem}")]
    NotInSpace {
        /// The space's name.
        space: String,
        /// The offending choice vector.
        choices: Vec<usize>,
        /// Which decision was wrong and why.
        problem: String,
    },
    /// A space's config is invalid; names the field.
    #[error("invalid {space} space config: {field} {problem}")]
    BadConfig {
        /// The space's name.
        space: String,
        /// The config field at fault (`[space.mobilenet] stages`, say).
        field: String,
        /// What was wrong, and what was expected.
        problem: String,
    },
    /// An architecture index is past the end of the space.
    #[error("architecture index {index} is out of range for space {space} (size {size})")]
    IndexOutOfRange {
        /// The space's name.
        space: String,
        /// The index asked for.
        index: usize,
        /// Number of architectures in the space.
        size: usize,
    },
}
