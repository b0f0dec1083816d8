//! A path's weights copied out of a supernet under a standalone network's names.
//!
//! A supernet holds each edge's or layer's candidates under `<prefix>.ops.<op>.…`
//! ([`CandidateOps`](crate::ops::CandidateOps)); the network of one architecture holds the
//! chosen op under `<prefix>.<op>.…` ([`Chosen`](crate::ops::Chosen)). Everything else (stems,
//! reductions, heads) has the same name in both.

use std::collections::BTreeMap;

use crate::params::NamedTensor;

/// The supernet's tensors renamed to a standalone network's names: a tensor
/// `<prefix>.ops.<op>.<rest>` is kept as `<prefix>.<op>.<rest>` when `chosen(prefix)` names
/// `op`, and dropped otherwise (an unselected candidate, or a layer the architecture skips,
/// where `chosen` gives `None`). Tensors outside any `ops` segment are kept as they are.
pub fn path_tensors(
    supernet: &BTreeMap<String, NamedTensor>,
    chosen: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, NamedTensor> {
    supernet
        .iter()
        .filter_map(|(name, tensor)| match name.split_once(".ops.") {
            None => Some((name.clone(), tensor.clone())),
            Some((prefix, rest)) => {
                let (op, _) = rest.split_once('.')?;
                (chosen(prefix).as_deref() == Some(op))
                    .then(|| (format!("{prefix}.{rest}"), tensor.clone()))
            }
        })
        .collect()
}
