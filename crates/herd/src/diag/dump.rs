//! A snapshot of every live herd task and watched resource: what each task
//! is doing, what it holds and waits for, and since when.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::actor;
use super::graph;
use super::report::{Holding, Party, PartyKind, PartyState, Site};
use crate::sync::Resource;

/// The live state of every herd task and every resource in use, from
/// [`dump`](super::dump). `Display` prints it as a tree of scopes and
/// tasks; [`to_json`](Dump::to_json) as JSON.
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// use herd::sync::Mutex;
///
/// herd::diag::enable();
/// let books = Mutex::named("dump-books", ());
/// let _held = books.lock().await;
/// let dump = herd::diag::dump();
/// let books = dump.resources.iter().find(|r| r.resource.name() == Some("dump-books")).unwrap();
/// assert_eq!(books.holders.len(), 1);
/// assert!(dump.to_string().contains("Mutex \"dump-books\""));
/// assert!(dump.to_json().contains("\"dump-books\""));
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Dump {
    /// Every live herd task (and every other task or thread that holds or
    /// waits for a herd resource), parents before their children.
    pub tasks: Vec<TaskDump>,
    /// Every resource that has holders or waiters.
    pub resources: Vec<ResourceDump>,
}

/// One task or thread in a [`Dump`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use herd::sync::Mutex;
/// use herd::task::Scope;
///
/// herd::diag::enable();
/// let lock = std::sync::Arc::new(Mutex::named("ex-lock", ()));
/// let held = lock.lock().await;
/// let scope = Scope::<(), ()>::builder().name("ex").build();
/// let waiter = lock.clone();
/// scope.spawn_named("ex-waiter", async move { drop(waiter.lock().await); Ok(()) }).await.unwrap();
/// tokio::task::yield_now().await;
/// let dump = herd::diag::dump();
/// let task = dump.tasks.iter().find(|t| t.party.name.as_deref() == Some("ex-waiter")).unwrap();
/// assert!(task.holds.is_empty());
/// assert!(matches!(&task.state, herd::diag::PartyState::Waiting { resource, .. }
///     if resource.name() == Some("ex-lock")));
/// drop(held);
/// scope.join().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct TaskDump {
    /// Who.
    pub party: Party,
    /// The herd task that spawned it, if any.
    pub parent: Option<u64>,
    /// What it is doing.
    pub state: PartyState,
    /// What it holds, oldest first, with where it acquired each.
    pub holds: Vec<HeldDump>,
}

/// One resource a task holds, in a [`TaskDump`].
///
/// # Examples
///
/// ```
/// # #[tokio::main]
/// # async fn main() {
/// herd::diag::enable();
/// let lock = herd::sync::Mutex::named("ex-held", ());
/// let _held = lock.lock().await;
/// let dump = herd::diag::dump();
/// let held = dump.tasks.iter().flat_map(|t| &t.holds)
///     .find(|h| h.resource.name() == Some("ex-held")).unwrap();
/// assert!(held.at.file().ends_with(".rs"));
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct HeldDump {
    /// What.
    pub resource: Resource,
    /// Where it was acquired.
    #[serde(serialize_with = "super::report::serialize_site")]
    pub at: Site,
}

/// One resource in a [`Dump`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use herd::sync::Mutex;
/// use herd::task::Scope;
///
/// herd::diag::enable();
/// let lock = std::sync::Arc::new(Mutex::named("ex-lock", ()));
/// let held = lock.lock().await;
/// let scope = Scope::<(), ()>::builder().name("ex").build();
/// let waiter = lock.clone();
/// scope.spawn_named("ex-waiter", async move { drop(waiter.lock().await); Ok(()) }).await.unwrap();
/// tokio::task::yield_now().await;
/// let dump = herd::diag::dump();
/// let r = dump.resources.iter().find(|r| r.resource.name() == Some("ex-lock")).unwrap();
/// assert_eq!((r.holders.len(), r.waiters.len()), (1, 1));
/// assert_eq!(r.waiters[0].0.name.as_deref(), Some("ex-waiter"));
/// drop(held);
/// scope.join().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ResourceDump {
    /// What.
    pub resource: Resource,
    /// Who holds it.
    pub holders: Vec<Holding>,
    /// Who waits for it, and for how long.
    pub waiters: Vec<(Party, WaitDump)>,
}

/// One wait in a [`ResourceDump`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use herd::sync::Mutex;
/// use herd::task::Scope;
///
/// herd::diag::enable();
/// let lock = std::sync::Arc::new(Mutex::named("ex-lock", ()));
/// let held = lock.lock().await;
/// let scope = Scope::<(), ()>::builder().name("ex").build();
/// let waiter = lock.clone();
/// scope.spawn_named("ex-waiter", async move { drop(waiter.lock().await); Ok(()) }).await.unwrap();
/// tokio::task::yield_now().await;
/// let dump = herd::diag::dump();
/// let r = dump.resources.iter().find(|r| r.resource.name() == Some("ex-lock")).unwrap();
/// let (_, wait) = &r.waiters[0];
/// assert!(wait.at.file().ends_with(".rs"));
/// assert!(wait.waited < std::time::Duration::from_secs(60));
/// drop(held);
/// scope.join().await.unwrap();
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct WaitDump {
    /// Where the wait began.
    #[serde(serialize_with = "super::report::serialize_site")]
    pub at: Site,
    /// For how long so far.
    #[serde(serialize_with = "super::report::millis", rename = "for_ms")]
    pub waited: Duration,
}

pub(crate) fn dump() -> Dump {
    actor::tick();
    let mut tasks = Vec::new();
    let mut waiters: Vec<(u64, Party, WaitDump)> = Vec::new();
    let mut actors = actor::actors();
    actors.sort_by_key(|a| a.party.id);
    for actor in actors {
        let holds = graph::held_by(&actor)
            .into_iter()
            .map(|(resource, at)| HeldDump { resource, at })
            .collect();
        let state = crate::loom::lock(&actor.state);
        if let Some(wait) = &state.waiting {
            waiters.push((
                wait.tracked.id,
                actor.party.clone(),
                WaitDump {
                    at: wait.at,
                    waited: actor::since(wait.since),
                },
            ));
        }
        drop(state);
        tasks.push(TaskDump {
            party: actor.party.clone(),
            parent: actor.parent,
            state: actor.state(),
            holds,
        });
    }
    let resources = graph::resources()
        .into_iter()
        .map(|tracked| ResourceDump {
            resource: tracked.resource.clone(),
            holders: tracked.holdings(),
            waiters: waiters
                .iter()
                .filter(|(id, ..)| *id == tracked.id)
                .map(|(_, party, wait)| (party.clone(), wait.clone()))
                .collect(),
        })
        .filter(|r| !r.holders.is_empty() || !r.waiters.is_empty())
        .collect();
    Dump { tasks, resources }
}

impl Dump {
    /// The dump as one JSON object: `{"tasks": [...], "resources": [...]}`,
    /// durations in milliseconds, sites as `"file:line:column"`.
    ///
    /// # Examples
    ///
    /// ```
    /// herd::diag::enable();
    /// let json = herd::diag::dump().to_json();
    /// assert!(json.starts_with("{\"tasks\":"));
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a dump always serializes")
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "herd: {} tasks and threads", self.tasks.len())?;
        // Roots first (no live parent), then each one's children beneath.
        let live = |id: u64| self.tasks.iter().any(|t| t.party.id == id);
        for task in &self.tasks {
            if task.parent.is_none_or(|p| !live(p)) {
                self.tree(f, task, 1)?;
            }
        }
        if !self.resources.is_empty() {
            writeln!(f, "resources:")?;
        }
        for r in &self.resources {
            writeln!(f, "  {}", r.resource)?;
            for holder in &r.holders {
                writeln!(f, "    held by {holder}")?;
            }
            for (party, wait) in &r.waiters {
                write!(f, "    waited for by {party} for {:?} at ", wait.waited)?;
                writeln!(f, "{}:{}", wait.at.file(), wait.at.line())?;
            }
        }
        Ok(())
    }
}

impl Dump {
    fn tree(&self, f: &mut fmt::Formatter<'_>, task: &TaskDump, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        writeln!(f, "{pad}{}: {}", task.party, task.state)?;
        for held in &task.holds {
            writeln!(
                f,
                "{pad}  holds {} since {}:{}",
                held.resource,
                held.at.file(),
                held.at.line()
            )?;
        }
        if task.party.kind == PartyKind::Task {
            for child in self
                .tasks
                .iter()
                .filter(|c| c.parent == Some(task.party.id))
            {
                self.tree(f, child, depth + 1)?;
            }
        }
        Ok(())
    }
}
