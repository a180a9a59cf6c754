//! The provider-neutral job model the rules read: a job is a list of steps (shell
//! scripts or actions/orb commands with inputs), environment entries, images and the
//! provider's id-token mechanism. Each provider module builds it from the YAML forest,
//! after resolving anchors, reusable commands, parameters, `extends:` and includes.

use crate::finding::Span;
use crate::yaml::{Forest, NodeId};

/// A place in one of the forest's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loc {
    pub file: u16,
    pub span: Span,
}

impl Loc {
    pub fn of(forest: &Forest, node: NodeId) -> Loc {
        Loc {
            file: forest.node(node).file,
            span: forest.span(node),
        }
    }
}

/// One `NAME: value` environment entry.
#[derive(Debug, Clone)]
pub struct EnvVar {
    pub name: String,
    pub key: NodeId,
    pub value: NodeId,
    /// The value after parameter substitution.
    pub text: String,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    /// A shell script.
    Run {
        node: NodeId,
        /// The script after parameter substitution.
        text: String,
        /// `text` is exactly the node's scalar value, so offsets in it map to source.
        exact: bool,
    },
    /// A GitHub action (`uses:`) or a CircleCI orb command, with its inputs.
    Uses {
        name: String,
        node: NodeId,
        inputs: Vec<Input>,
    },
}

#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub key: NodeId,
    pub value: NodeId,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    /// Environment visible to this step only.
    pub env: Vec<EnvVar>,
    /// The step's node (for spans when nothing narrower exists).
    pub node: NodeId,
    /// Display name.
    pub name: String,
}

/// How a job obtains an OIDC id token, provider by provider.
#[derive(Debug, Clone, Default)]
pub struct IdTokenDecl {
    /// GitHub: the `id-token: write` permission in force for the job (node of the value).
    pub github_write: Option<NodeId>,
    /// GitHub: the permissions block in force denies id-token (node of the block).
    pub github_denied: Option<NodeId>,
    /// GitLab `id_tokens`.
    pub gitlab: Vec<GitlabIdToken>,
}

/// One GitLab `id_tokens` entry: `NAME: { aud: … }`.
#[derive(Debug, Clone)]
pub struct GitlabIdToken {
    /// The variable the token is put in.
    pub var: String,
    pub var_node: NodeId,
    /// The requested audience.
    pub aud: String,
    pub aud_node: NodeId,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    /// The node to point at for the job as a whole (its key).
    pub node: NodeId,
    pub steps: Vec<Step>,
    /// Environment visible to every step.
    pub env: Vec<EnvVar>,
    /// Container images (text after parameter substitution, node).
    pub images: Vec<(String, NodeId)>,
    pub id_token: IdTokenDecl,
    /// Whether scripts run with `set -e` by default.
    pub errexit: bool,
    /// A CircleCI orb job (`orb/job` in a workflow, defined by the orb): its steps are not
    /// visible, only its name and parameters (one `Uses` step).
    pub orb_job: bool,
}
