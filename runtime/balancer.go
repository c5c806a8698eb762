package runtime

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// protocolName is the group protocol of Kafki applications, Kafka Streams'
// name for its assignor protocol.
const protocolName = "stream"

// subscriptionInfo is the user data a member sends in its join metadata
// (Kafka Streams' SubscriptionInfo, simplified). JSON keeps it readable in
// group descriptions; it is sent once per rebalance, not per record.
type subscriptionInfo struct {
	Version  int      `json:"v"`
	Process  string   `json:"p"`
	Owned    []string `json:"a,omitempty"`
	State    []string `json:"s,omitempty"`
	Shutdown bool     `json:"x,omitempty"`
	// Endpoint is the member's application server (host:port) for
	// interactive queries, Kafka Streams' user endpoint.
	Endpoint string `json:"e,omitempty"`
}

// assignmentInfo is the user data of one member's assignment (Kafka Streams'
// AssignmentInfo): the partitions of a consumer assignment cannot say which
// tasks are standbys.
type assignmentInfo struct {
	Version int      `json:"v"`
	Active  []string `json:"a,omitempty"`
	Standby []string `json:"s,omitempty"`
	// Error is non-zero when the application must shut down.
	Error int `json:"e,omitempty"`
	// Hosts tells every member which endpoint hosts which tasks (Kafka
	// Streams' partitionsByHost and standbyPartitionByHost), for
	// interactive queries.
	Hosts []hostTasks `json:"h,omitempty"`
}

// hostTasks are the tasks of one application server.
type hostTasks struct {
	Endpoint string   `json:"e"`
	Active   []string `json:"a,omitempty"`
	Standby  []string `json:"s,omitempty"`
}

const assignErrShutdown = 1

func taskString(t topology.TaskID) string {
	return strconv.Itoa(t.SubTopology) + "_" + strconv.FormatInt(int64(t.Partition), 10)
}

func parseTask(s string) (topology.TaskID, error) {
	a, b, ok := strings.Cut(s, "_")
	sub, err1 := strconv.Atoi(a)
	p, err2 := strconv.ParseInt(b, 10, 32)
	if !ok || err1 != nil || err2 != nil || sub < 0 || p < 0 {
		return topology.TaskID{}, fmt.Errorf("bad task id %q", s)
	}
	return topology.TaskID{SubTopology: sub, Partition: int32(p)}, nil
}

func taskStrings(ts []topology.TaskID) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = taskString(t)
	}
	return out
}

func parseTasks(ss []string) ([]topology.TaskID, error) {
	out := make([]topology.TaskID, 0, len(ss))
	for _, s := range ss {
		t, err := parseTask(s)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Assignment is what one stream thread was given in the last rebalance.
type Assignment struct {
	Active  []topology.TaskID
	Standby []topology.TaskID
	// Shutdown is set when an instance asked the application to stop.
	Shutdown bool
}

// memberHooks is what the balancer asks its stream thread for when it joins.
type memberHooks struct {
	processID string
	// stateTasks lists the tasks with local state in the state directory.
	stateTasks func() []topology.TaskID
	// shutdown reports whether this member asks the application to stop.
	shutdown func() bool
	// endpoint is the application server advertised, or "".
	endpoint string
}

// balancer is Kafki's kgo.GroupBalancer: it assigns whole tasks, sticky and
// state-aware, with standbys carried in the assignment's user data. Every
// stream thread has its own, because ParseSyncAssignment leaves the last
// assignment in it for the thread's OnPartitionsAssigned callback.
type balancer struct {
	subs        []topology.SubTopology
	standbys    int
	cooperative bool
	hooks       memberHooks

	mu    sync.Mutex
	last  Assignment
	hosts []hostTasks
	// followUp is set on the leader when its last plan held tasks back
	// for a cooperative move: the leader then rejoins to finish the move,
	// as Kafka Streams schedules a follow-up rebalance.
	followUp bool
}

var _ kgo.GroupBalancer = (*balancer)(nil)

// ProtocolName implements kgo.GroupBalancer.
func (b *balancer) ProtocolName() string { return protocolName }

// IsCooperative implements kgo.GroupBalancer.
func (b *balancer) IsCooperative() bool { return b.cooperative }

// sources returns every source topic of the topology, sorted.
func (b *balancer) sources() []string {
	var out []string
	for _, s := range b.subs {
		out = append(out, s.SourceTopics...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// taskPartitions returns the partitions that make up task t.
func (b *balancer) taskPartitions(t topology.TaskID, into map[string][]int32) {
	for _, s := range b.subs {
		if s.ID != t.SubTopology {
			continue
		}
		for _, topic := range s.SourceTopics {
			into[topic] = append(into[topic], t.Partition)
		}
	}
}

// JoinGroupMetadata implements kgo.GroupBalancer.
func (b *balancer) JoinGroupMetadata(topics []string, current map[string][]int32, _ int32) []byte {
	b.mu.Lock()
	last := b.last
	b.mu.Unlock()
	// The tasks we own are those of our last assignment whose partitions
	// we still hold: after a revocation or a lost session they are gone.
	var owned []topology.TaskID
	for _, t := range last.Active {
		parts := map[string][]int32{}
		b.taskPartitions(t, parts)
		held := false
		for topic, ps := range parts {
			if slices.Contains(current[topic], ps[0]) {
				held = true
			}
		}
		if held {
			owned = append(owned, t)
		}
	}
	info := subscriptionInfo{Version: 1, Process: b.hooks.processID, Owned: taskStrings(owned), Endpoint: b.hooks.endpoint}
	if b.hooks.stateTasks != nil {
		st := b.hooks.stateTasks()
		slices.SortFunc(st, compareTasks)
		info.State = taskStrings(st)
	}
	if b.hooks.shutdown != nil {
		info.Shutdown = b.hooks.shutdown()
	}
	ud, _ := json.Marshal(info) // cannot fail: strings and bools only
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 1
	meta.Topics = topics
	meta.UserData = ud
	for _, topic := range slices.Sorted(maps.Keys(current)) {
		mt := kmsg.NewConsumerMemberMetadataOwnedPartition()
		mt.Topic = topic
		mt.Partitions = current[topic]
		meta.OwnedPartitions = append(meta.OwnedPartitions, mt)
	}
	return meta.AppendTo(nil)
}

// ParseSyncAssignment implements kgo.GroupBalancer. It keeps the task
// assignment for the thread, which reads it with lastAssignment.
func (b *balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var ma kmsg.ConsumerMemberAssignment
	if err := ma.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("kafki balancer: decode assignment: %w", err)
	}
	var info assignmentInfo
	if len(ma.UserData) > 0 {
		if err := json.Unmarshal(ma.UserData, &info); err != nil {
			return nil, fmt.Errorf("kafki balancer: decode assignment info: %w", err)
		}
	}
	active, err := parseTasks(info.Active)
	if err != nil {
		return nil, fmt.Errorf("kafki balancer: %w", err)
	}
	standby, err := parseTasks(info.Standby)
	if err != nil {
		return nil, fmt.Errorf("kafki balancer: %w", err)
	}
	b.mu.Lock()
	b.last = Assignment{Active: active, Standby: standby, Shutdown: info.Error == assignErrShutdown}
	b.hosts = info.Hosts
	b.mu.Unlock()
	out := make(map[string][]int32, len(ma.Topics))
	for _, t := range ma.Topics {
		out[t.Topic] = t.Partitions
	}
	return out, nil
}

// takeFollowUp reports, once, whether the leader must rejoin to complete
// cooperative moves.
func (b *balancer) takeFollowUp() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.followUp
	b.followUp = false
	return f
}

// lastAssignment returns the tasks of the last assignment received.
func (b *balancer) lastAssignment() Assignment {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// MemberBalancer implements kgo.GroupBalancer; it runs on the leader only.
func (b *balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	states := make([]memberState, 0, len(members))
	for _, m := range members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.ProtocolMetadata); err != nil {
			return nil, nil, fmt.Errorf("kafki balancer: member %s: decode metadata: %w", m.MemberID, err)
		}
		var info subscriptionInfo
		if err := json.Unmarshal(meta.UserData, &info); err != nil {
			return nil, nil, fmt.Errorf("kafki balancer: member %s: decode subscription info: %w", m.MemberID, err)
		}
		owned, err := parseTasks(info.Owned)
		if err != nil {
			return nil, nil, fmt.Errorf("kafki balancer: member %s: %w", m.MemberID, err)
		}
		st, err := parseTasks(info.State)
		if err != nil {
			return nil, nil, fmt.Errorf("kafki balancer: member %s: %w", m.MemberID, err)
		}
		ms := memberState{id: m.MemberID, process: info.Process, owned: owned, shutdown: info.Shutdown, endpoint: info.Endpoint,
			state: make(map[topology.TaskID]bool, len(st))}
		for _, t := range st {
			ms.state[t] = true
		}
		states = append(states, ms)
	}
	slices.SortFunc(states, func(a, b memberState) int { return strings.Compare(a.id, b.id) })
	topics := make(map[string]struct{})
	for _, t := range b.sources() {
		topics[t] = struct{}{}
	}
	return &memberBalancer{b: b, members: states}, topics, nil
}

// memberBalancer is one leader-side balance of the group.
type memberBalancer struct {
	b       *balancer
	members []memberState
}

// Balance implements kgo.GroupMemberBalancer; kgo calls BalanceOrError.
func (m *memberBalancer) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	a, _ := m.BalanceOrError(topics)
	return a
}

// BalanceOrError implements kgo.GroupMemberBalancerOrError.
func (m *memberBalancer) BalanceOrError(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	in := assignInput{members: m.members, standbys: m.b.standbys, cooperative: m.b.cooperative,
		stateful: map[topology.TaskID]bool{}}
	shutdown := false
	for _, ms := range m.members {
		shutdown = shutdown || ms.shutdown
	}
	for _, s := range m.b.subs {
		var n int32 = -1
		for _, topic := range s.SourceTopics {
			c, ok := topics[topic]
			if !ok {
				return nil, fmt.Errorf("kafki balancer: no metadata for source topic %s", topic)
			}
			if n >= 0 && c != n {
				return nil, fmt.Errorf("kafki balancer: sub-topology %d: %w", s.ID, ErrCoPartitioning)
			}
			n = c
		}
		for p := int32(0); p < n; p++ {
			t := topology.TaskID{SubTopology: s.ID, Partition: p}
			in.tasks = append(in.tasks, t)
			if len(s.Stores) > 0 {
				in.stateful[t] = true
			}
		}
	}
	var plan map[string]*memberAssignment
	if !shutdown {
		plan = assignTasks(in)
	}
	held := false
	for _, a := range plan {
		held = held || a.held > 0
	}
	m.b.mu.Lock()
	m.b.followUp = held
	m.b.mu.Unlock()
	hosts := hostMap(m.members, plan)
	out := make(syncAssignment, 0, len(m.members))
	for _, ms := range m.members {
		ma := kmsg.NewConsumerMemberAssignment()
		info := assignmentInfo{Version: 1}
		if shutdown {
			info.Error = assignErrShutdown
		} else if a := plan[ms.id]; a != nil {
			info.Active = taskStrings(a.active)
			info.Standby = taskStrings(a.standby)
			info.Hosts = hosts
			parts := map[string][]int32{}
			for _, t := range a.active {
				m.b.taskPartitions(t, parts)
			}
			for _, topic := range slices.Sorted(maps.Keys(parts)) {
				ps := parts[topic]
				slices.Sort(ps)
				at := kmsg.NewConsumerMemberAssignmentTopic()
				at.Topic = topic
				at.Partitions = slices.Compact(ps)
				ma.Topics = append(ma.Topics, at)
			}
		}
		ma.UserData, _ = json.Marshal(info)
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = ms.id
		sa.MemberAssignment = ma.AppendTo(nil)
		out = append(out, sa)
	}
	return out, nil
}

// hostMap gathers the tasks of a plan by member endpoint; members with no
// endpoint are left out.
func hostMap(members []memberState, plan map[string]*memberAssignment) []hostTasks {
	byEndpoint := map[string]*hostTasks{}
	var order []string
	for _, ms := range members {
		a := plan[ms.id]
		if ms.endpoint == "" || a == nil {
			continue
		}
		h := byEndpoint[ms.endpoint]
		if h == nil {
			h = &hostTasks{Endpoint: ms.endpoint}
			byEndpoint[ms.endpoint] = h
			order = append(order, ms.endpoint)
		}
		h.Active = append(h.Active, taskStrings(a.active)...)
		h.Standby = append(h.Standby, taskStrings(a.standby)...)
	}
	slices.Sort(order)
	out := make([]hostTasks, 0, len(order))
	for _, e := range order {
		out = append(out, *byEndpoint[e])
	}
	return out
}

// lastHosts returns the tasks by endpoint of the last assignment received.
func (b *balancer) lastHosts() []hostTasks {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hosts
}

type syncAssignment []kmsg.SyncGroupRequestGroupAssignment

func (s syncAssignment) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return s }
