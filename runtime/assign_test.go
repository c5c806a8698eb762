package runtime

import (
	"fmt"
	"slices"
	"testing"

	"github.com/kafki/kafki/topology"
)

func tasks(sub int, n int32) []topology.TaskID {
	var out []topology.TaskID
	for p := int32(0); p < n; p++ {
		out = append(out, topology.TaskID{SubTopology: sub, Partition: p})
	}
	return out
}

func members(n int) []memberState {
	var out []memberState
	for i := 0; i < n; i++ {
		out = append(out, memberState{id: fmt.Sprintf("m%d", i), process: fmt.Sprintf("p%d", i), state: map[topology.TaskID]bool{}})
	}
	return out
}

// check verifies that every task is active exactly once and counts differ
// by at most one.
func check(t *testing.T, all []topology.TaskID, out map[string]*memberAssignment) {
	t.Helper()
	seen := map[topology.TaskID]string{}
	lo, hi := 1<<30, 0
	for id, a := range out {
		for _, tk := range a.active {
			if o, dup := seen[tk]; dup {
				t.Fatalf("task %v on %s and %s", tk, o, id)
			}
			seen[tk] = id
		}
		lo, hi = min(lo, len(a.active)), max(hi, len(a.active))
	}
	if len(seen) != len(all) {
		t.Fatalf("%d of %d tasks assigned", len(seen), len(all))
	}
	if hi-lo > 1 {
		t.Fatalf("unbalanced: %d..%d", lo, hi)
	}
}

func TestAssignBalancedAndSticky(t *testing.T) {
	all := append(tasks(0, 6), tasks(1, 3)...)
	ms := members(3)
	first := assignTasks(assignInput{members: ms, tasks: all})
	check(t, all, first)

	// A fourth member joins: tasks that stay keep their owner.
	ms = members(4)
	for i := 0; i < 3; i++ {
		ms[i].owned = first[ms[i].id].active
	}
	second := assignTasks(assignInput{members: ms, tasks: all})
	check(t, all, second)
	moved := 0
	for i := 0; i < 3; i++ {
		for _, tk := range first[ms[i].id].active {
			if !slices.Contains(second[ms[i].id].active, tk) {
				moved++
			}
		}
	}
	if moved != len(second["m3"].active) {
		t.Fatalf("%d tasks moved, but the new member got %d", moved, len(second["m3"].active))
	}
}

func TestAssignCooperativeMovesInTwoRounds(t *testing.T) {
	all := tasks(0, 4)
	ms := members(2)
	ms[0].owned = all // m0 had everything, m1 is new
	round1 := assignTasks(assignInput{members: ms, tasks: all, cooperative: true})
	if len(round1["m1"].active) != 0 || len(round1["m0"].active) != 2 {
		t.Fatalf("round 1 must only revoke: %+v %+v", round1["m0"], round1["m1"])
	}
	ms[0].owned = round1["m0"].active
	for _, tk := range all {
		ms[0].state[tk] = true // m0 still has state for all
	}
	round2 := assignTasks(assignInput{members: ms, tasks: all, cooperative: true})
	check(t, all, round2)
	if !slices.Equal(round2["m0"].active, round1["m0"].active) {
		t.Fatalf("round 2 moved m0's kept tasks: %v -> %v", round1["m0"].active, round2["m0"].active)
	}
}

func TestAssignPrefersState(t *testing.T) {
	all := tasks(0, 4)
	ms := members(2)
	ms[1].state[all[0]] = true
	ms[1].state[all[1]] = true
	out := assignTasks(assignInput{members: ms, tasks: all})
	check(t, all, out)
	if !slices.Equal(out["m1"].active, all[:2]) {
		t.Fatalf("m1 got %v, want the tasks it has state for %v", out["m1"].active, all[:2])
	}
}

func TestAssignStandbys(t *testing.T) {
	all := tasks(0, 4)
	ms := members(3)
	ms[2].process = ms[1].process // two threads of one process
	stateful := map[topology.TaskID]bool{}
	for _, tk := range all {
		stateful[tk] = true
	}
	out := assignTasks(assignInput{members: ms, tasks: all, stateful: stateful, standbys: 1})
	check(t, all, out)
	proc := map[string]string{}
	for _, m := range ms {
		proc[m.id] = m.process
	}
	for _, tk := range all {
		var activeProc string
		var standbys []string
		for id, a := range out {
			if slices.Contains(a.active, tk) {
				activeProc = proc[id]
			}
			if slices.Contains(a.standby, tk) {
				standbys = append(standbys, proc[id])
			}
		}
		if len(standbys) != 1 || standbys[0] == activeProc {
			t.Fatalf("task %v: active on %s, standbys on %v", tk, activeProc, standbys)
		}
	}
}
