//! Who runs what: a pure function from the live members and the configured tasks to an
//! assignment, computed identically by every worker.
//!
//! Each task ranks the members by a rendezvous hash of (task, member) and goes to the first
//! one in its ranking that still has room, where room is an even quota (`tasks / members`,
//! the first `tasks % members` members in hash order taking one more). The result depends only
//! on the two inputs, so workers that agree on the member list agree on the assignment without
//! talking to each other, and a join or leave moves few tasks: a task stays where it is unless
//! its member left or its member is over the new quota.

use std::collections::BTreeMap;

/// A task of a connector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskRef {
    pub connector: String,
    pub task: usize,
}

/// Member id (a worker's advertised `host:port`) → what it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Connector instances (they report the connector's own status).
    pub connectors: BTreeMap<String, Vec<String>>,
    pub tasks: BTreeMap<String, Vec<TaskRef>>,
}

impl Assignment {
    pub fn tasks_of(&self, member: &str) -> &[TaskRef] {
        self.tasks.get(member).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn connectors_of(&self, member: &str) -> &[String] {
        self.connectors.get(member).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// 64-bit FNV-1a: stable across processes and releases (unlike std's `DefaultHasher`).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            hash ^= b as u64;
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // A final avalanche so near-identical keys spread well.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

fn ranking<'m>(key: &[&[u8]], members: &'m [String]) -> Vec<&'m String> {
    let mut ranked: Vec<(u64, &String)> = members
        .iter()
        .map(|m| {
            let mut parts = key.to_vec();
            parts.push(m.as_bytes());
            (fnv1a(&parts), m)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// Assigns connector instances and tasks to `members` (any order; duplicates ignored).
pub fn assign(members: &[String], connectors: &BTreeMap<String, usize>) -> Assignment {
    let mut members: Vec<String> = members.to_vec();
    members.sort();
    members.dedup();
    let mut out = Assignment::default();
    if members.is_empty() {
        return out;
    }

    for name in connectors.keys() {
        let owner = ranking(&[b"connector", name.as_bytes()], &members)[0].clone();
        out.connectors.entry(owner).or_default().push(name.clone());
    }

    let tasks: Vec<TaskRef> = connectors
        .iter()
        .flat_map(|(name, &n)| (0..n).map(move |task| TaskRef { connector: name.clone(), task }))
        .collect();
    let base = tasks.len() / members.len();
    let extra = tasks.len() % members.len();
    // Which members may take one more than `base` is itself decided by hashing, so the choice
    // does not depend on where the members sort.
    let with_extra: Vec<&String> =
        ranking(&[b"extra", tasks.len().to_string().as_bytes()], &members).into_iter().take(extra).collect();
    let mut room: BTreeMap<&String, usize> =
        members.iter().map(|m| (m, base + usize::from(with_extra.contains(&m)))).collect();

    for task in tasks {
        let task_no = task.task.to_string();
        let ranked = ranking(&[task.connector.as_bytes(), task_no.as_bytes()], &members);
        if let Some(member) = ranked.into_iter().find(|m| room[m] > 0) {
            *room.get_mut(member).expect("ranked members come from `members`") -= 1;
            out.tasks.entry(member.clone()).or_default().push(task);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("127.0.0.1:{}", 8083 + i)).collect()
    }

    fn counts(a: &Assignment, members: &[String]) -> Vec<usize> {
        members.iter().map(|m| a.tasks_of(m).len()).collect()
    }

    #[test]
    fn six_tasks_on_three_workers_is_two_each() {
        let m = members(3);
        let a = assign(&m, &[("ch".to_owned(), 6)].into());
        assert_eq!(counts(&a, &m), [2, 2, 2]);
        assert_eq!(a.connectors.values().map(Vec::len).sum::<usize>(), 1);
    }

    #[test]
    fn every_task_is_assigned_once_and_loads_differ_by_at_most_one() {
        for n_members in 1..6 {
            let m = members(n_members);
            let connectors: BTreeMap<String, usize> = [("a".into(), 7), ("b".into(), 3), ("c".into(), 1)].into();
            let a = assign(&m, &connectors);
            let mut all: Vec<&TaskRef> = a.tasks.values().flatten().collect();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), 11);
            let c = counts(&a, &m);
            assert!(c.iter().max().unwrap() - c.iter().min().unwrap() <= 1, "{c:?}");
        }
    }

    #[test]
    fn same_inputs_same_answer_whatever_the_member_order() {
        let mut m = members(4);
        let connectors: BTreeMap<String, usize> = [("x".into(), 9)].into();
        let a = assign(&m, &connectors);
        m.reverse();
        assert_eq!(assign(&m, &connectors), a);
    }

    #[test]
    fn a_leaving_worker_moves_its_tasks_and_few_others() {
        let m = members(3);
        let connectors: BTreeMap<String, usize> = [("ch".into(), 6)].into();
        let before = assign(&m, &connectors);
        let survivors = &m[..2];
        let after = assign(survivors, &connectors);
        assert_eq!(counts(&after, survivors), [3, 3]);
        // Every task that was on a survivor stays there.
        for s in survivors {
            for t in before.tasks_of(s) {
                assert!(after.tasks_of(s).contains(t), "{t:?} moved off {s}");
            }
        }
    }

    #[test]
    fn no_members_no_assignment() {
        assert_eq!(assign(&[], &[("a".into(), 2)].into()), Assignment::default());
    }
}
