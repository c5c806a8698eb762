package changelog

import (
	"strconv"
	"time"

	"github.com/kafki/kafki/state"
)

// ChangelogTopic is the name of the changelog topic of a store, as in Kafka
// Streams: <application.id>-<store>-changelog.
func ChangelogTopic(appID, storeName string) string {
	return appID + "-" + storeName + "-changelog"
}

// RepartitionTopic is the name of a repartition topic, as in Kafka Streams:
// <application.id>-<name>-repartition.
func RepartitionTopic(appID, name string) string {
	return appID + "-" + name + "-repartition"
}

// WindowChangelogAdditionalRetention is added to the retention of window and
// session stores to get the retention.ms of their changelog topics, so that
// the broker never deletes a record the store still holds. It is Kafka
// Streams' windowstore.changelog.additional.retention.ms default (one day).
const WindowChangelogAdditionalRetention = 24 * time.Hour

// TopicConfigs returns the topic configs of the changelog topic of spec:
// cleanup.policy=compact and retention.ms=-1 for key-value stores;
// compact,delete with
// retention.ms = spec.Retention (state.DefaultRetention when zero) +
// WindowChangelogAdditionalRetention for window and session stores. Entries of spec.LogConfig are applied last and
// override these defaults.
//
// retention.ms=-1 changes nothing on Kafka, which never deletes records of
// a compact-only topic by age; it keeps brokers that do (the embedded kfake
// broker applies retention.ms to every topic) from deleting state whose
// record timestamps, event times, are older than the broker's default
// retention.
func TopicConfigs(spec state.Spec) map[string]string {
	cfg := make(map[string]string, 2+len(spec.LogConfig))
	switch spec.Kind {
	case state.KindWindow, state.KindSession:
		retention := spec.Retention
		if retention == 0 {
			retention = state.DefaultRetention
		}
		cfg["cleanup.policy"] = "compact,delete"
		cfg["retention.ms"] = strconv.FormatInt((retention + WindowChangelogAdditionalRetention).Milliseconds(), 10)
	default:
		cfg["cleanup.policy"] = "compact"
		cfg["retention.ms"] = "-1"
	}
	for k, v := range spec.LogConfig {
		cfg[k] = v
	}
	return cfg
}

// RepartitionTopicConfigs returns the topic configs of a repartition topic,
// as Kafka Streams sets them: deletion without time limit (the application
// purges what it has consumed with DeleteRecords) and 50 MiB segments so
// that purged data is freed soon.
func RepartitionTopicConfigs() map[string]string {
	return map[string]string{
		"cleanup.policy": "delete",
		"retention.ms":   "-1",
		"segment.bytes":  "52428800",
	}
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string {
	return tp.Topic + "-" + strconv.FormatInt(int64(tp.Partition), 10)
}
