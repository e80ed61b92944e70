//! Who runs what: a pure function from the live members, the configured tasks and where tasks
//! run now to an assignment, computed identically by every worker.
//!
//! Every member gets an even quota (`tasks / members`; the `tasks % members` extra slots go to
//! the members that already run the most tasks, ties broken by a hash). A task stays with the
//! member that runs it now (as the status topic says) while that member is alive and within its
//! quota; every other task ranks the members by a rendezvous hash of (task, member) and goes to
//! the first one with room. So a leave moves only the leaver's tasks and a join moves only what
//! the joiner takes; with nothing running yet, placement is the rendezvous one. Workers that
//! agree on the inputs agree on the assignment without talking to each other; while a move is
//! under way their views of "runs now" can differ for a moment, which at worst runs a task on two
//! workers briefly (safe: both consume in the connector's consumer group).

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
/// `running` says which member runs a task now, where one does.
pub fn assign(
    members: &[String],
    connectors: &BTreeMap<String, usize>,
    running: &BTreeMap<TaskRef, String>,
) -> Assignment {
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
    // The extra slots go to the members running the most tasks now (fewest moves); ties, and
    // the first placement, by hash, so the choice does not depend on where members sort.
    let held = |m: &String| tasks.iter().filter(|t| running.get(*t) == Some(m)).count();
    let mut by_load = ranking(&[b"extra", tasks.len().to_string().as_bytes()], &members);
    by_load.sort_by_key(|m| std::cmp::Reverse(held(m)));
    let with_extra: Vec<&String> = by_load.into_iter().take(extra).collect();
    let mut room: BTreeMap<&String, usize> =
        members.iter().map(|m| (m, base + usize::from(with_extra.contains(&m)))).collect();

    // Tasks stay where they run while their member is alive and within its quota.
    let mut to_place = Vec::new();
    for task in tasks {
        match running.get(&task).and_then(|owner| room.get_mut(owner)) {
            Some(left) if *left > 0 => {
                *left -= 1;
                let owner = running[&task].clone();
                out.tasks.entry(owner).or_default().push(task);
            }
            _ => to_place.push(task),
        }
    }
    for task in to_place {
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
        let a = assign(&m, &[("ch".to_owned(), 6)].into(), &BTreeMap::new());
        assert_eq!(counts(&a, &m), [2, 2, 2]);
        assert_eq!(a.connectors.values().map(Vec::len).sum::<usize>(), 1);
    }

    #[test]
    fn every_task_is_assigned_once_and_loads_differ_by_at_most_one() {
        for n_members in 1..6 {
            let m = members(n_members);
            let connectors: BTreeMap<String, usize> = [("a".into(), 7), ("b".into(), 3), ("c".into(), 1)].into();
            let a = assign(&m, &connectors, &BTreeMap::new());
            // Every placement, without dedup: a task given to two members appears twice.
            let mut placed: Vec<&TaskRef> = a.tasks.values().flatten().collect();
            placed.sort();
            let expected: Vec<TaskRef> = connectors
                .iter()
                .flat_map(|(c, &n)| (0..n).map(move |task| TaskRef { connector: c.clone(), task }))
                .collect();
            assert_eq!(placed, expected.iter().collect::<Vec<_>>(), "{n_members} members");
            let c = counts(&a, &m);
            assert!(c.iter().max().unwrap() - c.iter().min().unwrap() <= 1, "{c:?}");
        }
    }

    #[test]
    fn same_inputs_same_answer_whatever_the_member_order() {
        let mut m = members(4);
        let connectors: BTreeMap<String, usize> = [("x".into(), 9)].into();
        let a = assign(&m, &connectors, &BTreeMap::new());
        m.reverse();
        assert_eq!(assign(&m, &connectors, &BTreeMap::new()), a);
        let running = running_of(&a);
        assert_eq!(assign(&m, &connectors, &running), assign(&members(4), &connectors, &running));
    }

    fn running_of(a: &Assignment) -> BTreeMap<TaskRef, String> {
        a.tasks.iter().flat_map(|(m, ts)| ts.iter().map(move |t| (t.clone(), m.clone()))).collect()
    }

    fn moved(before: &Assignment, after: &Assignment) -> Vec<TaskRef> {
        let (b, a) = (running_of(before), running_of(after));
        b.iter().filter(|(t, m)| a.get(*t) != Some(*m)).map(|(t, _)| t.clone()).collect()
    }

    #[test]
    fn a_leave_moves_only_the_leavers_tasks() {
        for n in 2..7 {
            for n_tasks in [1, 5, 6, 7, 12, 13] {
                let m = members(n);
                let connectors: BTreeMap<String, usize> = [("a".into(), n_tasks), ("b".into(), 2)].into();
                let before = assign(&m, &connectors, &BTreeMap::new());
                for leaver in 0..n {
                    let survivors: Vec<String> = m.iter().filter(|x| **x != m[leaver]).cloned().collect();
                    let after = assign(&survivors, &connectors, &running_of(&before));
                    let mut moved = moved(&before, &after);
                    moved.sort();
                    let mut leavers: Vec<TaskRef> = before.tasks_of(&m[leaver]).to_vec();
                    leavers.sort();
                    assert_eq!(moved, leavers, "{n} members, {n_tasks}+2 tasks, member {leaver} leaves");
                    let c = counts(&after, &survivors);
                    assert!(c.iter().max().unwrap() - c.iter().min().unwrap() <= 1, "{c:?}");
                }
            }
        }
    }

    #[test]
    fn a_join_moves_only_what_the_joiner_takes() {
        for n in 1..6 {
            for n_tasks in [1, 4, 6, 7, 12] {
                let m = members(n + 1);
                let connectors: BTreeMap<String, usize> = [("a".into(), n_tasks)].into();
                let before = assign(&m[..n], &connectors, &BTreeMap::new());
                let after = assign(&m, &connectors, &running_of(&before));
                let joiner = &m[n];
                let moved = moved(&before, &after);
                assert!(moved.iter().all(|t| after.tasks_of(joiner).contains(t)), "only to the joiner: {moved:?}");
                assert_eq!(moved.len(), after.tasks_of(joiner).len());
                let c = counts(&after, &m);
                assert!(c.iter().max().unwrap() - c.iter().min().unwrap() <= 1, "{c:?}");
            }
        }
    }

    #[test]
    fn tasks_of_members_that_are_gone_are_placed_again() {
        let m = members(2);
        let connectors: BTreeMap<String, usize> = [("a".into(), 4)].into();
        let ghost: BTreeMap<TaskRef, String> =
            (0..4).map(|task| (TaskRef { connector: "a".into(), task }, "127.0.0.1:9999".to_owned())).collect();
        let a = assign(&m, &connectors, &ghost);
        assert_eq!(counts(&a, &m), [2, 2]);
    }

    #[test]
    fn no_members_no_assignment() {
        assert_eq!(assign(&[], &[("a".into(), 2)].into(), &BTreeMap::new()), Assignment::default());
    }
}
