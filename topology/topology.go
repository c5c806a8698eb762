package topology

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kafki/kafki/state"
)

// Topology is a validated processor graph, split into sub-topologies. It is
// immutable and safe to share: every task makes its own processors.
type Topology struct {
	nodes    []*nodeSpec // in the order they were added
	byName   map[string]*nodeSpec
	children map[string][]string
	stores   map[string]state.Spec
	storeSeq []string // store names in the order they were added
	internal map[string]int
	globals  []GlobalStore
	copart   [][]string // node names whose upstream sources are co-partitioned
	subs     []*subTopology
	subOf    map[string]int // node name -> sub-topology id
}

type subTopology struct {
	id     int
	nodes  []*nodeSpec // topological order
	stores []string    // in the order they were added
}

// Build validates the graph and returns the Topology. The error joins every
// problem found; each wraps one of the Err* sentinels of this package.
func (b *Builder) Build() (*Topology, error) {
	errs := slices.Clone(b.problems)
	t := &Topology{
		nodes:    slices.Clone(b.nodes),
		byName:   map[string]*nodeSpec{},
		children: map[string][]string{},
		stores:   map[string]state.Spec{},
		internal: map[string]int{},
		globals:  slices.Clone(b.globals),
		copart:   slices.Clone(b.copart),
		subOf:    map[string]int{},
	}
	for k, v := range b.internal {
		t.internal[k] = v
	}
	for _, s := range b.stores {
		t.stores[s.Name] = s
		t.storeSeq = append(t.storeSeq, s.Name)
	}
	topicOwner := map[string]string{}
	for _, n := range t.nodes {
		t.byName[n.name] = n
		errs = append(errs, n.problems...)
	}
	for _, g := range t.globals {
		for _, nm := range []string{g.SourceName, g.ProcessorName} {
			if _, dup := t.byName[nm]; dup && nm != "" {
				errs = append(errs, fmt.Errorf("%w: global store node %q is also a node of the graph", ErrDuplicateName, nm))
			}
		}
		topicOwner[g.Topic] = g.SourceName
	}
	for _, n := range t.nodes {
		for _, topic := range n.topics {
			if other, dup := topicOwner[topic]; dup {
				errs = append(errs, fmt.Errorf("%w: topic %q is read by both %q and %q", ErrDuplicateName, topic, other, n.name))
				continue
			}
			topicOwner[topic] = n.name
		}
		for _, s := range n.stores {
			if _, ok := t.stores[s]; !ok && !b.hasGlobal(s) {
				errs = append(errs, fmt.Errorf("%w: processor %q uses store %q", ErrUnknownStore, n.name, s))
			}
		}
		for _, p := range n.parents {
			parent, ok := t.byName[p]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%w: %q is a parent of %q but was never added", ErrUnknownNode, p, n.name))
				continue
			case parent.kind == kindSink:
				errs = append(errs, fmt.Errorf("%w: sink %q cannot be the parent of %q", ErrInvalid, p, n.name))
				continue
			case parent.keyOut != n.keyIn || parent.valOut != n.valIn:
				errs = append(errs, fmt.Errorf("%w: %q forwards Record[%v, %v] but its child %q takes Record[%v, %v]",
					ErrTypeMismatch, p, parent.keyOut, parent.valOut, n.name, n.keyIn, n.valIn))
				continue
			}
			if !slices.Contains(t.children[p], n.name) {
				t.children[p] = append(t.children[p], n.name)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	order, err := t.topoSort()
	if err != nil {
		return nil, err
	}
	t.split(order)
	return t, nil
}

// topoSort orders the nodes so that parents come before children (ties
// broken by the order they were added) and reports a cycle if there is one.
func (t *Topology) topoSort() ([]*nodeSpec, error) {
	indeg := map[string]int{}
	for _, n := range t.nodes {
		indeg[n.name] += 0
		for _, c := range t.children[n.name] {
			indeg[c]++
		}
	}
	var order []*nodeSpec
	done := map[string]bool{}
	for len(order) < len(t.nodes) {
		progressed := false
		for _, n := range t.nodes {
			if done[n.name] || indeg[n.name] > 0 {
				continue
			}
			done[n.name] = true
			order = append(order, n)
			progressed = true
			for _, c := range t.children[n.name] {
				indeg[c]--
			}
		}
		if !progressed {
			var stuck []string
			for _, n := range t.nodes {
				if !done[n.name] {
					stuck = append(stuck, n.name)
				}
			}
			return nil, fmt.Errorf("%w: among nodes %v", ErrCycle, stuck)
		}
	}
	return order, nil
}

// split groups nodes joined by edges or by a shared store into
// sub-topologies, numbered by their earliest-added node as Kafka Streams does.
func (t *Topology) split(order []*nodeSpec) {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		return x
	}
	union := func(a, b string) {
		ra, rb := find(a), find(b)
		if ra == rb {
			return
		}
		if t.byName[ra].order < t.byName[rb].order {
			parent[rb] = ra
		} else {
			parent[ra] = rb
		}
	}
	storeUser := map[string]string{}
	for _, n := range t.nodes {
		parent[n.name] = n.name
	}
	for _, n := range t.nodes {
		for _, p := range n.parents {
			union(p, n.name)
		}
		for _, s := range n.stores {
			if _, local := t.stores[s]; !local {
				continue
			}
			if u, ok := storeUser[s]; ok {
				union(u, n.name)
			} else {
				storeUser[s] = n.name
			}
		}
	}
	idOf := map[string]int{}
	for _, n := range t.nodes {
		r := find(n.name)
		if _, ok := idOf[r]; !ok {
			idOf[r] = len(t.subs)
			t.subs = append(t.subs, &subTopology{id: len(t.subs)})
		}
	}
	for _, n := range order {
		id := idOf[find(n.name)]
		t.subOf[n.name] = id
		t.subs[id].nodes = append(t.subs[id].nodes, n)
	}
	for _, s := range t.storeSeq {
		if u, ok := storeUser[s]; ok {
			sub := t.subs[t.subOf[u]]
			sub.stores = append(sub.stores, s)
		}
	}
}

// SubTopology is what the runtime needs to know about one sub-topology to
// subscribe, create topics and make tasks.
type SubTopology struct {
	ID int
	// SourceTopics are resolved names: internal ones carry the
	// application id prefix.
	SourceTopics []string
	// RepartitionTopics are the SourceTopics that are internal
	// repartition topics.
	RepartitionTopics []string
	// SinkTopics are the fixed sink topics, resolved likewise.
	SinkTopics []string
	// DynamicSinks reports sinks that choose their topic per record.
	DynamicSinks bool
	// Stores are the specs of the stores each task of this sub-topology
	// opens.
	Stores []state.Spec
	// CoPartitionGroups are sets of SourceTopics (resolved) that must
	// have the same partition count and be assigned together, partition
	// by partition: the inputs of a join. Repartition topics in a group
	// are created with the group's count. See AddCoPartitionGroup.
	CoPartitionGroups [][]string
}

// InternalTopic is a repartition topic the runtime must create.
type InternalTopic struct {
	// Name is resolved: "<application id>-<name>-repartition".
	Name string
	// Partitions is the partition count asked for, or 0 to take the
	// largest partition count of SourceTopics.
	Partitions int
	// SourceTopics are the (resolved) topics whose largest partition count
	// this topic takes: the source topics of the sub-topology that writes
	// it, or, when the topic is co-partitioned with external topics (a
	// join's other side), those topics. Some may be internal topics
	// themselves, whose counts are derived first.
	SourceTopics []string
}

func (t *Topology) resolve(appID, topic string) string {
	if _, ok := t.internal[topic]; ok {
		return appID + "-" + topic
	}
	return topic
}

// SubTopologies describes every sub-topology, numbered from 0.
func (t *Topology) SubTopologies(applicationID string) []SubTopology {
	out := make([]SubTopology, 0, len(t.subs))
	for _, s := range t.subs {
		st := SubTopology{ID: s.id}
		for _, n := range s.nodes {
			for _, topic := range n.topics {
				r := t.resolve(applicationID, topic)
				st.SourceTopics = append(st.SourceTopics, r)
				if _, ok := t.internal[topic]; ok {
					st.RepartitionTopics = append(st.RepartitionTopics, r)
				}
			}
			if n.kind == kindSink {
				if n.dynamic {
					st.DynamicSinks = true
				} else if r := t.resolve(applicationID, n.topic); !slices.Contains(st.SinkTopics, r) {
					st.SinkTopics = append(st.SinkTopics, r)
				}
			}
		}
		for _, name := range s.stores {
			st.Stores = append(st.Stores, t.stores[name])
		}
		st.CoPartitionGroups = t.coPartitionGroups(s.id, applicationID)
		out = append(out, st)
	}
	return out
}

// InternalTopics lists the repartition topics, in the order of the
// sub-topologies that write them.
func (t *Topology) InternalTopics(applicationID string) []InternalTopic {
	var out []InternalTopic
	seen := map[string]bool{}
	for _, st := range t.SubTopologies(applicationID) {
		for _, n := range t.subs[st.ID].nodes {
			if n.kind != kindSink || n.dynamic || seen[n.topic] {
				continue
			}
			parts, ok := t.internal[n.topic]
			if !ok {
				continue
			}
			seen[n.topic] = true
			out = append(out, InternalTopic{
				Name:         t.resolve(applicationID, n.topic),
				Partitions:   parts,
				SourceTopics: t.partitionSources(applicationID, n.topic, st.SourceTopics),
			})
		}
	}
	return out
}

// GlobalStores lists the global stores (GlobalKTables); it may be empty.
func (t *Topology) GlobalStores() []GlobalStore { return slices.Clone(t.globals) }
