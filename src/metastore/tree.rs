//! The znode tree: paths, versions, ephemeral owners and atomic multi-op updates.
//!
//! Pure data, no time and no I/O, so that every rule is testable on its own. The root
//! `/` always exists (its data may be set; it cannot be created or deleted).

use crate::protocol::{MetaError, MetaOp, SessionId, ZNode};
use std::collections::BTreeMap;

/// The root node's path.
pub(crate) const ROOT: &str = "/";

/// A change made to the tree; the store fires watches from these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A node was created (its parent's children changed too).
    Created(String),
    /// A node was deleted (its parent's children changed too).
    Deleted(String),
    /// A node's data was replaced.
    DataChanged(String),
}

/// Why a multi-op update failed, and at which op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpFailure {
    /// The error.
    pub error: MetaError,
    /// The index of the failing op.
    pub op_index: usize,
}

/// What a successful multi-op update did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Applied {
    /// The resulting version of each op's node (for a delete: the version it had).
    pub versions: Vec<u64>,
    /// The changes, in the order they were made.
    pub changes: Vec<Change>,
}

/// Checks that `path` is absolute, has no empty, `.` or `..` segment and no trailing slash.
pub(crate) fn validate_path(path: &str) -> Result<(), MetaError> {
    if path == ROOT {
        return Ok(());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(MetaError::BadArguments);
    };
    let bad_segment = |s: &str| s.is_empty() || s == "." || s == ".." || s.contains('\0');
    if rest.split('/').any(bad_segment) {
        return Err(MetaError::BadArguments);
    }
    Ok(())
}

/// The parent of a valid path (`None` for the root).
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path == ROOT {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some(ROOT),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The prefix shared by every descendant of `path`.
fn descendant_prefix(path: &str) -> String {
    if path == ROOT {
        ROOT.to_string()
    } else {
        format!("{path}/")
    }
}

/// The paths of the descendants of `path`, in order, with their names relative to it.
/// Descendants share a prefix, so they are one contiguous range of keys.
fn descendants<'a>(nodes: &'a BTreeMap<String, ZNode>, path: &str) -> impl Iterator<Item = &'a str> + 'a {
    let prefix = descendant_prefix(path);
    let skip = prefix.len();
    nodes
        .range(prefix.clone()..)
        .map(|(p, _)| p.as_str())
        .take_while(move |p| p.starts_with(&prefix))
        // The root's prefix is the root's own path.
        .filter(move |p| p.len() > skip)
        .map(move |p| &p[skip..])
}

/// The tree of znodes, keyed by path.
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, ZNode>,
}

impl Default for Tree {
    fn default() -> Self {
        Self::from_nodes(Vec::new())
    }
}

impl Tree {
    /// A tree holding `nodes` (from a snapshot) and the root.
    pub fn from_nodes(nodes: Vec<ZNode>) -> Self {
        let mut map: BTreeMap<String, ZNode> = nodes.into_iter().map(|n| (n.path.clone(), n)).collect();
        map.entry(ROOT.to_string()).or_insert_with(|| ZNode {
            path: ROOT.to_string(),
            data: String::new(),
            version: 0,
            ephemeral_owner: None,
        });
        Tree { nodes: map }
    }

    /// Every node, root included, in path order.
    pub fn nodes(&self) -> impl Iterator<Item = &ZNode> {
        self.nodes.values()
    }

    /// The node at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&ZNode> {
        self.nodes.get(path)
    }

    /// The sorted names of the children of `path`.
    pub fn children(&self, path: &str) -> Result<Vec<String>, MetaError> {
        validate_path(path)?;
        if !self.nodes.contains_key(path) {
            return Err(MetaError::NoNode);
        }
        // Child names sort as their full paths do, since those share the prefix.
        let names = descendants(&self.nodes, path).filter(|name| !name.contains('/')).map(str::to_string).collect();
        Ok(names)
    }

    /// The paths of the ephemeral nodes owned by `session`.
    pub fn ephemerals_of(&self, session: SessionId) -> Vec<String> {
        self.nodes.values().filter(|n| n.ephemeral_owner == Some(session)).map(|n| n.path.clone()).collect()
    }

    /// Deletes every ephemeral node of `session` (they never have children).
    pub fn remove_ephemerals(&mut self, session: SessionId) -> Vec<Change> {
        let paths = self.ephemerals_of(session);
        for path in &paths {
            self.nodes.remove(path);
        }
        paths.into_iter().map(Change::Deleted).collect()
    }

    /// Applies `ops` atomically on behalf of `session`: either all succeed, or the tree
    /// is left unchanged and the first failing op is reported.
    pub fn multi(&mut self, session: SessionId, ops: &[MetaOp]) -> Result<Applied, OpFailure> {
        let mut txn = Txn { nodes: &mut self.nodes, undo: BTreeMap::new(), changes: Vec::new() };
        let mut versions = Vec::with_capacity(ops.len());
        for (op_index, op) in ops.iter().enumerate() {
            match txn.apply(session, op) {
                Ok(version) => versions.push(version),
                Err(error) => {
                    txn.rollback();
                    return Err(OpFailure { error, op_index });
                }
            }
        }
        Ok(Applied { versions, changes: txn.changes })
    }
}

/// A multi-op update in progress, with what is needed to undo it.
struct Txn<'a> {
    nodes: &'a mut BTreeMap<String, ZNode>,
    /// The state of each touched path before the update (`None`: absent).
    undo: BTreeMap<String, Option<ZNode>>,
    changes: Vec<Change>,
}

impl Txn<'_> {
    fn apply(&mut self, session: SessionId, op: &MetaOp) -> Result<u64, MetaError> {
        match op {
            MetaOp::Create { path, data, ephemeral } => self.create(path, data, ephemeral.then_some(session)),
            MetaOp::SetData { path, data, expected_version } => self.set_data(path, data, *expected_version),
            MetaOp::Delete { path, expected_version } => self.delete(path, *expected_version),
            MetaOp::Check { path, version } => self.check(path, *version),
        }
    }

    fn create(&mut self, path: &str, data: &str, owner: Option<SessionId>) -> Result<u64, MetaError> {
        validate_path(path)?;
        if self.nodes.contains_key(path) {
            return Err(MetaError::NodeExists);
        }
        self.create_missing_ancestors(path)?;
        self.put(ZNode { path: path.to_string(), data: data.to_string(), version: 0, ephemeral_owner: owner });
        self.changes.push(Change::Created(path.to_string()));
        Ok(0)
    }

    /// Creates the missing ancestors of `path` as empty persistent nodes, top down.
    fn create_missing_ancestors(&mut self, path: &str) -> Result<(), MetaError> {
        let mut missing = Vec::new();
        let mut current = parent(path);
        while let Some(p) = current {
            if let Some(existing) = self.nodes.get(p) {
                if existing.ephemeral_owner.is_some() {
                    return Err(MetaError::NoChildrenForEphemerals);
                }
                break;
            }
            missing.push(p.to_string());
            current = parent(p);
        }
        for p in missing.into_iter().rev() {
            self.put(ZNode { path: p.clone(), data: String::new(), version: 0, ephemeral_owner: None });
            self.changes.push(Change::Created(p));
        }
        Ok(())
    }

    fn set_data(&mut self, path: &str, data: &str, expected: Option<u64>) -> Result<u64, MetaError> {
        let node = self.existing(path, expected)?;
        let updated = ZNode { data: data.to_string(), version: node.version + 1, ..node.clone() };
        let version = updated.version;
        self.put(updated);
        self.changes.push(Change::DataChanged(path.to_string()));
        Ok(version)
    }

    fn delete(&mut self, path: &str, expected: Option<u64>) -> Result<u64, MetaError> {
        if path == ROOT {
            return Err(MetaError::BadArguments);
        }
        let version = self.existing(path, expected)?.version;
        if descendants(self.nodes, path).next().is_some() {
            return Err(MetaError::NotEmpty);
        }
        self.remember(path);
        self.nodes.remove(path);
        self.changes.push(Change::Deleted(path.to_string()));
        Ok(version)
    }

    fn check(&mut self, path: &str, version: u64) -> Result<u64, MetaError> {
        self.existing(path, Some(version)).map(|n| n.version)
    }

    /// The node at `path`, if it exists and has the expected version.
    fn existing(&self, path: &str, expected: Option<u64>) -> Result<&ZNode, MetaError> {
        validate_path(path)?;
        let node = self.nodes.get(path).ok_or(MetaError::NoNode)?;
        match expected {
            Some(v) if v != node.version => Err(MetaError::BadVersion),
            _ => Ok(node),
        }
    }

    fn put(&mut self, node: ZNode) {
        self.remember(&node.path);
        self.nodes.insert(node.path.clone(), node);
    }

    /// Records the state of `path` before its first change in this update.
    fn remember(&mut self, path: &str) {
        if !self.undo.contains_key(path) {
            let before = self.nodes.get(path).cloned();
            self.undo.insert(path.to_string(), before);
        }
    }

    fn rollback(self) {
        for (path, before) in self.undo {
            match before {
                Some(node) => self.nodes.insert(path, node),
                None => self.nodes.remove(&path),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(path: &str, ephemeral: bool) -> MetaOp {
        MetaOp::Create { path: path.into(), data: "d".into(), ephemeral }
    }

    #[test]
    fn paths_are_validated() {
        for good in ["/", "/a", "/a/b", "/brokers/ids/1"] {
            assert_eq!(validate_path(good), Ok(()), "{good}");
        }
        for bad in ["", "a", "/a/", "//", "/a//b", "/a/./b", "/..", "/a\0"] {
            assert_eq!(validate_path(bad), Err(MetaError::BadArguments), "{bad:?}");
        }
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/"), None);
    }

    #[test]
    fn create_makes_parents_and_children_are_listed_sorted() {
        let mut tree = Tree::default();
        let applied = tree.multi(1, &[create("/a/b/c", false)]).unwrap();
        assert_eq!(
            applied.changes,
            vec![Change::Created("/a".into()), Change::Created("/a/b".into()), Change::Created("/a/b/c".into())]
        );
        tree.multi(1, &[create("/a/a-x", false), create("/a/0", false)]).unwrap();
        assert_eq!(tree.children("/a").unwrap(), vec!["0", "a-x", "b"]);
        assert_eq!(tree.children("/").unwrap(), vec!["a"]);
        assert_eq!(tree.children("/zz"), Err(MetaError::NoNode));
    }

    #[test]
    fn a_failed_multi_changes_nothing() {
        let mut tree = Tree::default();
        tree.multi(1, &[create("/x", false)]).unwrap();
        let ops = [
            create("/new/deep", false),
            MetaOp::SetData { path: "/x".into(), data: "v1".into(), expected_version: Some(0) },
            MetaOp::Check { path: "/x".into(), version: 0 },
        ];
        let failure = tree.multi(1, &ops).unwrap_err();
        assert_eq!(failure, OpFailure { error: MetaError::BadVersion, op_index: 2 });
        assert!(tree.get("/new").is_none());
        assert_eq!(tree.get("/x").unwrap().version, 0);
        assert_eq!(tree.get("/x").unwrap().data, "d");
    }

    #[test]
    fn ephemerals_cannot_have_children_and_are_removed_with_their_session() {
        let mut tree = Tree::default();
        tree.multi(7, &[create("/e", true)]).unwrap();
        let failure = tree.multi(7, &[create("/e/child", false)]).unwrap_err();
        assert_eq!(failure.error, MetaError::NoChildrenForEphemerals);
        assert_eq!(tree.ephemerals_of(7), vec!["/e".to_string()]);
        assert_eq!(tree.remove_ephemerals(7), vec![Change::Deleted("/e".into())]);
        assert!(tree.get("/e").is_none());
    }

    #[test]
    fn delete_checks_version_children_and_root() {
        let mut tree = Tree::default();
        tree.multi(1, &[create("/p/c", false)]).unwrap();
        let del = |path: &str, v| MetaOp::Delete { path: path.into(), expected_version: v };
        assert_eq!(tree.multi(1, &[del("/p", None)]).unwrap_err().error, MetaError::NotEmpty);
        assert_eq!(tree.multi(1, &[del("/p/c", Some(3))]).unwrap_err().error, MetaError::BadVersion);
        assert_eq!(tree.multi(1, &[del("/", None)]).unwrap_err().error, MetaError::BadArguments);
        assert_eq!(tree.multi(1, &[del("/p/c", Some(0)), del("/p", None)]).unwrap().versions, vec![0, 0]);
        assert_eq!(tree.multi(1, &[del("/p", None)]).unwrap_err().error, MetaError::NoNode);
    }
}
