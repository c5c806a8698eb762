package topology

import (
	"fmt"
	"slices"
)

// AddCoPartitionGroup declares that the source topics upstream of the
// named nodes (within their sub-topology) must be co-partitioned: a join
// reads both inputs by partition number, so they need the same partition
// count and the same assignment. The runtime checks the counts before it
// starts (SubTopology.CoPartitionGroups).
func (b *Builder) AddCoPartitionGroup(nodes ...string) {
	if len(nodes) == 0 {
		b.problems = append(b.problems, fmt.Errorf("%w: empty co-partition group", ErrInvalid))
		return
	}
	b.copart = append(b.copart, slices.Clone(nodes))
}

// coPartitionGroups resolves the groups whose nodes are in sub-topology
// sub to the source topics upstream of them. Groups of a single topic need
// no check and are left out.
func (t *Topology) coPartitionGroups(sub int, appID string) [][]string {
	var out [][]string
	for _, group := range t.copart {
		var topics []string
		seen := map[string]bool{}
		var walk func(name string)
		walk = func(name string) {
			n, ok := t.byName[name]
			if !ok || seen[name] || t.subOf[name] != sub {
				return
			}
			seen[name] = true
			for _, topic := range n.topics {
				if r := t.resolve(appID, topic); !slices.Contains(topics, r) {
					topics = append(topics, r)
				}
			}
			for _, p := range n.parents {
				walk(p)
			}
		}
		for _, name := range group {
			walk(name)
		}
		if len(topics) > 1 {
			slices.Sort(topics)
			out = append(out, topics)
		}
	}
	return out
}

// partitionSources is what a repartition topic takes its partition count
// from: the external topics it is co-partitioned with, if any (as Kafka
// Streams does, so that a re-keyed join input matches the other side, and
// so that the two topics of a foreign-key join, which feed each other,
// follow the tables they serve), else the writer's sources.
func (t *Topology) partitionSources(appID, topic string, writerSources []string) []string {
	resolved := t.resolve(appID, topic)
	var external []string
	for sub := range t.subs {
		for _, group := range t.coPartitionGroups(sub, appID) {
			if !slices.Contains(group, resolved) {
				continue
			}
			for _, g := range group {
				if !t.isInternal(appID, g) && !slices.Contains(external, g) {
					external = append(external, g)
				}
			}
		}
	}
	if len(external) > 0 {
		return external
	}
	return slices.Clone(writerSources)
}

func (t *Topology) isInternal(appID, resolved string) bool {
	for name := range t.internal {
		if t.resolve(appID, name) == resolved {
			return true
		}
	}
	return false
}
