package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicPlan is what Start learned and decided about the topics of the
// application.
type topicPlan struct {
	// partitions of every source, repartition and changelog topic.
	partitions map[string]int32
	// internal are the topics the instance created or found: repartition
	// topics and changelogs.
	internal []string
}

type internalTopic struct {
	name       string
	partitions int32
	configs    map[string]*string
}

// setupTopics checks the source topics of the topology and creates its
// internal topics, as Kafka Streams' InternalTopicManager does on the group
// leader: every instance does it here, and "already exists" is fine as long
// as the partition count is the one expected.
func setupTopics(ctx context.Context, adm *kadm.Client, appID string, subs []topology.SubTopology, internal []topology.InternalTopic, replication int16) (*topicPlan, error) {
	isInternal := map[string]bool{}
	for _, it := range internal {
		isInternal[it.Name] = true
	}
	var external []string
	for _, s := range subs {
		for _, t := range s.SourceTopics {
			if !isInternal[t] && !slices.Contains(external, t) {
				external = append(external, t)
			}
		}
	}
	slices.Sort(external)
	counts := map[string]int32{}
	if len(external) > 0 {
		details, err := adm.ListTopics(ctx, external...)
		if err != nil {
			return nil, fmt.Errorf("list source topics: %w", err)
		}
		var missing []string
		for _, t := range external {
			d, ok := details[t]
			if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) || len(d.Partitions) == 0 {
				missing = append(missing, t)
				continue
			}
			if d.Err != nil {
				return nil, fmt.Errorf("describe source topic %s: %w", t, d.Err)
			}
			counts[t] = int32(len(d.Partitions))
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: %s", ErrMissingSourceTopics, strings.Join(missing, ", "))
		}
	}

	// Repartition topics take the largest partition count of the sources
	// of the sub-topology writing them; those may be repartition topics
	// themselves, so iterate until every count is known.
	var want []internalTopic
	pending := slices.Clone(internal)
	for len(pending) > 0 {
		progressed := false
		rest := pending[:0]
		for _, it := range pending {
			n := int32(it.Partitions)
			ok := true
			if n == 0 {
				for _, src := range it.SourceTopics {
					c, known := counts[src]
					if !known {
						ok = false
						break
					}
					n = max(n, c)
				}
			}
			if !ok || n == 0 {
				rest = append(rest, it)
				continue
			}
			counts[it.Name] = n
			want = append(want, internalTopic{name: it.Name, partitions: n, configs: ptrConfigs(changelog.RepartitionTopicConfigs())})
			progressed = true
		}
		pending = rest
		if !progressed && len(pending) > 0 {
			return nil, fmt.Errorf("%w: cannot derive the partition count of %s", ErrInternalTopic, pending[0].Name)
		}
	}

	// Co-partitioning: all sources of a sub-topology (the two sides of a
	// join, a merge) must have the same number of partitions, because a
	// task reads the same partition number of each.
	for _, s := range subs {
		if len(s.SourceTopics) < 2 {
			continue
		}
		first := counts[s.SourceTopics[0]]
		for _, t := range s.SourceTopics[1:] {
			if counts[t] != first {
				var desc []string
				for _, t := range s.SourceTopics {
					desc = append(desc, fmt.Sprintf("%s (%d)", t, counts[t]))
				}
				return nil, fmt.Errorf("%w: sub-topology %d reads %s", ErrCoPartitioning, s.ID, strings.Join(desc, ", "))
			}
		}
	}

	// Changelogs: one partition per task of the sub-topology.
	for _, s := range subs {
		if len(s.SourceTopics) == 0 {
			continue
		}
		n := counts[s.SourceTopics[0]]
		for _, spec := range s.Stores {
			if spec.LoggingDisabled {
				continue
			}
			name := changelog.ChangelogTopic(appID, spec.Name)
			counts[name] = n
			want = append(want, internalTopic{name: name, partitions: n, configs: ptrConfigs(changelog.TopicConfigs(spec))})
		}
	}

	plan := &topicPlan{partitions: counts}
	for _, it := range want {
		plan.internal = append(plan.internal, it.name)
		resp, err := adm.CreateTopic(ctx, it.partitions, replication, it.configs, it.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			if aerr := describeCreateErr(it.name, err); aerr != nil {
				return nil, aerr
			}
			return nil, fmt.Errorf("%w: create %s: %w", ErrInternalTopic, it.name, err)
		}
	}
	if len(want) > 0 {
		names := make([]string, len(want))
		for i, it := range want {
			names[i] = it.name
		}
		details, err := adm.ListTopics(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list internal topics: %w", err)
		}
		for _, it := range want {
			d, ok := details[it.name]
			if !ok || d.Err != nil {
				return nil, fmt.Errorf("%w: %s not found after creation", ErrInternalTopic, it.name)
			}
			if got := int32(len(d.Partitions)); got != it.partitions {
				return nil, fmt.Errorf("%w: %s has %d partitions, want %d", ErrInternalTopic, it.name, got, it.partitions)
			}
		}
	}
	return plan, nil
}

func ptrConfigs(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		out[k] = &v
	}
	return out
}
