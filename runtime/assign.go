package runtime

import (
	"cmp"
	"slices"

	"github.com/kafki/kafki/topology"
)

// memberState is what one group member told the leader in its join
// metadata.
type memberState struct {
	id      string
	process string
	// owned are the active tasks the member runs now (its previous
	// assignment); the leader keeps them where they are when it can.
	owned []topology.TaskID
	// state are the tasks the member's process has local state for
	// (active and standby checkpoints in its state directory).
	state map[topology.TaskID]bool
	// shutdown asks the whole application to stop.
	shutdown bool
	// endpoint is the member's application server, or "".
	endpoint string
}

// memberAssignment is one member's share of an assignment.
type memberAssignment struct {
	active  []topology.TaskID
	standby []topology.TaskID
	// held are tasks this member should get but that another member
	// still owns: the cooperative protocol moves them in a follow-up
	// rebalance.
	held int
}

// assignInput is everything the leader's assignment depends on. Equal
// inputs give equal outputs: members and tasks are processed in sorted
// order, so that every leader computes the same plan.
type assignInput struct {
	members     []memberState // sorted by id
	tasks       []topology.TaskID
	stateful    map[topology.TaskID]bool
	standbys    int
	cooperative bool
}

func compareTasks(a, b topology.TaskID) int {
	if c := cmp.Compare(a.SubTopology, b.SubTopology); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// assignTasks computes a sticky, balanced, state-aware assignment of whole
// tasks to members:
//
//  1. each member keeps the tasks it owns, up to its fair share;
//  2. every other task goes to a member under its share, preferring one
//     whose process has the task's state, then the least loaded;
//  3. tasks move from the most to the least loaded member until counts
//     differ by at most one, moving tasks the receiver has state for first;
//  4. in cooperative mode a task whose owner is still in the group but
//     must move is left unassigned in this round: the owner revokes it,
//     rejoins, and the next round hands it to its new member, so that no
//     task ever runs on two members;
//  5. each stateful task gets up to standbys standby replicas on members of
//     other processes (one per process), preferring those with its state.
func assignTasks(in assignInput) map[string]*memberAssignment {
	out := make(map[string]*memberAssignment, len(in.members))
	n := len(in.members)
	if n == 0 {
		return out
	}
	tasks := slices.Clone(in.tasks)
	slices.SortFunc(tasks, compareTasks)
	valid := make(map[topology.TaskID]bool, len(tasks))
	for _, t := range tasks {
		valid[t] = true
	}

	active := make([][]topology.TaskID, n)
	owner := make(map[topology.TaskID]int, len(tasks)) // previous owner, first claimant wins
	assigned := make(map[topology.TaskID]int, len(tasks))
	share := (len(tasks) + n - 1) / n

	// 1. Sticky: keep owned tasks up to the fair share.
	for i, m := range in.members {
		owned := slices.Clone(m.owned)
		slices.SortFunc(owned, compareTasks)
		for _, t := range owned {
			if !valid[t] {
				continue
			}
			if _, dup := owner[t]; dup {
				continue
			}
			owner[t] = i
			if len(active[i]) < share {
				active[i] = append(active[i], t)
				assigned[t] = i
			}
		}
	}

	// 2. Place the rest: state holders under their share first, then the
	// least loaded member.
	for _, t := range tasks {
		if _, ok := assigned[t]; ok {
			continue
		}
		best := -1
		for i, m := range in.members {
			if len(active[i]) >= share {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			bi, bs := len(active[best]), in.members[best].state[t]
			if ms := m.state[t]; ms != bs {
				if ms {
					best = i
				}
				continue
			}
			if len(active[i]) < bi {
				best = i
			}
		}
		active[best] = append(active[best], t)
		assigned[t] = best
	}

	// 3. Even out counts: no member has two tasks more than another.
	for {
		hi, lo := 0, 0
		for i := range active {
			if len(active[i]) > len(active[hi]) {
				hi = i
			}
			if len(active[i]) < len(active[lo]) {
				lo = i
			}
		}
		if len(active[hi])-len(active[lo]) <= 1 {
			break
		}
		pick := len(active[hi]) - 1
		for j, t := range active[hi] {
			if in.members[lo].state[t] {
				pick = j
				break
			}
		}
		t := active[hi][pick]
		active[hi] = slices.Delete(active[hi], pick, pick+1)
		active[lo] = append(active[lo], t)
		assigned[t] = lo
	}

	for i, m := range in.members {
		a := &memberAssignment{}
		for _, t := range active[i] {
			// 4. Cooperative: a task changes owner in two rounds.
			if o, ok := owner[t]; ok && o != i && in.cooperative {
				a.held++
				continue
			}
			a.active = append(a.active, t)
		}
		slices.SortFunc(a.active, compareTasks)
		out[m.id] = a
	}

	// 5. Standbys.
	if in.standbys > 0 {
		standbyLoad := make([]int, n)
		for _, t := range tasks {
			if !in.stateful[t] {
				continue
			}
			act := assigned[t]
			usedProc := map[string]bool{in.members[act].process: true}
			for r := 0; r < in.standbys; r++ {
				best := -1
				for i, m := range in.members {
					if usedProc[m.process] {
						continue
					}
					if best < 0 {
						best = i
						continue
					}
					bs := in.members[best].state[t]
					if ms := m.state[t]; ms != bs {
						if ms {
							best = i
						}
						continue
					}
					if standbyLoad[i] < standbyLoad[best] {
						best = i
					}
				}
				if best < 0 {
					break
				}
				usedProc[in.members[best].process] = true
				standbyLoad[best]++
				a := out[in.members[best].id]
				a.standby = append(a.standby, t)
			}
		}
	}
	return out
}
