package topology

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// NodeDescription describes one node of a sub-topology.
type NodeDescription struct {
	Name string
	// Kind is "Source", "Processor" or "Sink".
	Kind string
	// Topics are a source's topics (unresolved, as Kafka Streams shows them).
	Topics []string
	// Topic is a sink's fixed topic; empty when it chooses per record.
	Topic  string
	Stores []string
	// Successors and Predecessors are node names, in Describe's order.
	Successors   []string
	Predecessors []string
}

// SubTopologyDescription describes one sub-topology; Nodes are in Kafka
// Streams' order (largest downstream sub-graph first, then by name).
type SubTopologyDescription struct {
	ID    int
	Nodes []NodeDescription
}

// GlobalStoreDescription describes a global store and the nodes that fill it.
type GlobalStoreDescription struct {
	ID            int
	Source        string
	Topic         string
	Processor     string
	Store         string
	SubTopologyID int
}

// TopologyDescription is the shape of a topology, for people and tools.
type TopologyDescription struct {
	SubTopologies []SubTopologyDescription
	GlobalStores  []GlobalStoreDescription
}

// Describe returns the description of the topology.
func (t *Topology) Describe() *TopologyDescription {
	d := &TopologyDescription{}
	for _, s := range t.subs {
		size := map[string]int{}
		var sizeOf func(string) int
		sizeOf = func(name string) int {
			if v, ok := size[name]; ok {
				return v
			}
			v := 1
			for _, c := range t.children[name] {
				v += sizeOf(c)
			}
			size[name] = v
			return v
		}
		byOrder := func(a, b string) int {
			if c := cmp.Compare(sizeOf(b), sizeOf(a)); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		}
		sd := SubTopologyDescription{ID: s.id}
		for _, n := range s.nodes {
			nd := NodeDescription{Name: n.name, Topics: slices.Clone(n.topics), Topic: n.topic,
				Stores:     slices.Sorted(slices.Values(n.stores)),
				Successors: slices.Clone(t.children[n.name]), Predecessors: slices.Clone(n.parents)}
			switch n.kind {
			case kindSource:
				nd.Kind = "Source"
			case kindProcessor:
				nd.Kind = "Processor"
			default:
				nd.Kind = "Sink"
			}
			slices.SortFunc(nd.Successors, byOrder)
			slices.SortFunc(nd.Predecessors, byOrder)
			sd.Nodes = append(sd.Nodes, nd)
		}
		slices.SortStableFunc(sd.Nodes, func(a, b NodeDescription) int { return byOrder(a.Name, b.Name) })
		d.SubTopologies = append(d.SubTopologies, sd)
	}
	for i, g := range t.globals {
		d.GlobalStores = append(d.GlobalStores, GlobalStoreDescription{
			ID: len(t.subs) + i, Source: g.SourceName, Topic: g.Topic,
			Processor: g.ProcessorName, Store: g.Spec.Name, SubTopologyID: len(t.subs) + i,
		})
	}
	return d
}

func names(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

func (n NodeDescription) String() string {
	switch n.Kind {
	case "Source":
		return fmt.Sprintf("Source: %s (topics: [%s])\n      --> %s", n.Name, strings.Join(n.Topics, ", "), names(n.Successors))
	case "Sink":
		topic := "topic: " + n.Topic
		if n.Topic == "" {
			topic = "extractor: per record"
		}
		return fmt.Sprintf("Sink: %s (%s)\n      <-- %s", n.Name, topic, names(n.Predecessors))
	default:
		return fmt.Sprintf("Processor: %s (stores: [%s])\n      --> %s\n      <-- %s",
			n.Name, strings.Join(n.Stores, ", "), names(n.Successors), names(n.Predecessors))
	}
}

func (s SubTopologyDescription) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sub-topology: %d\n", s.ID)
	for _, n := range s.Nodes {
		b.WriteString("    ")
		b.WriteString(n.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func (g GlobalStoreDescription) String() string {
	return fmt.Sprintf("Sub-topology: %d for global store (will not generate tasks)\n"+
		"    Source: %s (topics: [%s])\n      --> %s\n"+
		"    Processor: %s (stores: [%s])\n      --> none\n      <-- %s\n",
		g.ID, g.Source, g.Topic, g.Processor, g.Processor, g.Store, g.Source)
}

// String renders the description in Kafka Streams' text layout.
func (d *TopologyDescription) String() string {
	var b strings.Builder
	b.WriteString("Topologies:\n ")
	for _, s := range d.SubTopologies {
		b.WriteString("  ")
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	for _, g := range d.GlobalStores {
		b.WriteString("  ")
		b.WriteString(g.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// DOT renders the description as a Graphviz digraph: one cluster per
// sub-topology, topics as ellipses, stores as cylinders.
func (d *TopologyDescription) DOT() string {
	var b strings.Builder
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	b.WriteString("digraph topology {\n  rankdir=LR;\n  node [shape=box];\n")
	topics := map[string]bool{}
	stores := map[string]bool{}
	for _, s := range d.SubTopologies {
		fmt.Fprintf(&b, "  subgraph cluster_%d {\n    label=%s;\n", s.ID, q(fmt.Sprintf("Sub-topology: %d", s.ID)))
		for _, n := range s.Nodes {
			fmt.Fprintf(&b, "    %s;\n", q(n.Name))
		}
		b.WriteString("  }\n")
		for _, n := range s.Nodes {
			for _, c := range n.Successors {
				fmt.Fprintf(&b, "  %s -> %s;\n", q(n.Name), q(c))
			}
			for _, t := range n.Topics {
				topics[t] = true
				fmt.Fprintf(&b, "  %s -> %s;\n", q("topic:"+t), q(n.Name))
			}
			if n.Kind == "Sink" && n.Topic != "" {
				topics[n.Topic] = true
				fmt.Fprintf(&b, "  %s -> %s;\n", q(n.Name), q("topic:"+n.Topic))
			}
			for _, st := range n.Stores {
				stores[st] = true
				fmt.Fprintf(&b, "  %s -> %s [dir=both, style=dashed];\n", q(n.Name), q("store:"+st))
			}
		}
	}
	for _, g := range d.GlobalStores {
		topics[g.Topic] = true
		stores[g.Store] = true
		fmt.Fprintf(&b, "  %s -> %s -> %s -> %s;\n", q("topic:"+g.Topic), q(g.Source), q(g.Processor), q("store:"+g.Store))
	}
	for _, t := range slices.Sorted(maps.Keys(topics)) {
		fmt.Fprintf(&b, "  %s [shape=ellipse, label=%s];\n", q("topic:"+t), q(t))
	}
	for _, s := range slices.Sorted(maps.Keys(stores)) {
		fmt.Fprintf(&b, "  %s [shape=cylinder, label=%s];\n", q("store:"+s), q(s))
	}
	b.WriteString("}\n")
	return b.String()
}
