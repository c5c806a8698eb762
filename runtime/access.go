package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/topology"
)

// ErrNotAuthorized is wrapped by Start's error when the cluster's ACLs do
// not give the application's principal an operation it needs. The message
// names each missing operation and resource, e.g. "WRITE on topic
// app-counts-changelog".
var ErrNotAuthorized = errors.New("not authorized")

// need is one permission the application needs.
type need struct {
	op       kmsg.ACLOperation
	resource string // "topic" or "group"
	name     string
}

func (n need) String() string {
	return fmt.Sprintf("%s on %s %s", strings.ToUpper(n.op.String()), n.resource, n.name)
}

// accessPlan lists, per topic, the operations the application performs on
// it, as Kafka Streams' security documentation lists them: READ on inputs
// (and global tables' topics), WRITE on outputs, READ and WRITE on the
// internal topics, READ on the group.
func accessPlan(appID string, subs []topology.SubTopology, internal []string, globals []topology.GlobalStore) map[string][]kmsg.ACLOperation {
	ops := map[string][]kmsg.ACLOperation{}
	add := func(t string, o ...kmsg.ACLOperation) {
		for _, op := range o {
			if !slices.Contains(ops[t], op) {
				ops[t] = append(ops[t], op)
			}
		}
	}
	for _, s := range subs {
		for _, t := range s.SourceTopics {
			add(t, kmsg.ACLOperationRead)
		}
		for _, t := range s.SinkTopics {
			add(t, kmsg.ACLOperationWrite)
		}
	}
	for _, t := range internal {
		add(t, kmsg.ACLOperationRead, kmsg.ACLOperationWrite)
	}
	for _, g := range globals {
		add(g.Topic, kmsg.ACLOperationRead)
	}
	return ops
}

// checkAccess asks the cluster which operations the client's principal may
// perform on the topics and on the group (KIP-430 authorized operations)
// and returns ErrNotAuthorized naming everything missing. Topics that do
// not exist are left to the callers that need them. Without an authorizer
// the cluster reports every operation allowed, so this costs two requests.
func checkAccess(ctx context.Context, cl *kgo.Client, group string, topics map[string][]kmsg.ACLOperation) error {
	var missing []need
	if len(topics) > 0 {
		req := kmsg.NewPtrMetadataRequest()
		req.IncludeTopicAuthorizedOperations = true
		names := slices.Sorted(func(yield func(string) bool) {
			for t := range topics {
				if !yield(t) {
					return
				}
			}
		})
		for _, t := range names {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("check permissions: metadata: %w", err)
		}
		for _, rt := range resp.Topics {
			if rt.Topic == nil {
				continue
			}
			t := *rt.Topic
			want := topics[t]
			switch err := kerr.ErrorForCode(rt.ErrorCode); {
			case errors.Is(err, kerr.TopicAuthorizationFailed):
				// Without DESCRIBE the broker says nothing more.
				missing = append(missing, need{kmsg.ACLOperationDescribe, "topic", t})
				for _, op := range want {
					missing = append(missing, need{op, "topic", t})
				}
				continue
			case err != nil:
				continue // unknown topic and the like: reported elsewhere
			}
			missing = append(missing, lacking(rt.AuthorizedOperations, want, "topic", t)...)
		}
	}
	if group != "" {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		req.IncludeAuthorizedOperations = true
		resp, err := req.RequestWith(ctx, cl)
		switch {
		case errors.Is(err, kerr.GroupAuthorizationFailed):
			// Finding the coordinator already needs DESCRIBE on the group.
			missing = append(missing, need{kmsg.ACLOperationRead, "group", group})
			resp = &kmsg.DescribeGroupsResponse{}
		case err != nil:
			return fmt.Errorf("check permissions: describe group: %w", err)
		}
		for _, g := range resp.Groups {
			switch err := kerr.ErrorForCode(g.ErrorCode); {
			case errors.Is(err, kerr.GroupAuthorizationFailed):
				missing = append(missing, need{kmsg.ACLOperationRead, "group", g.Group})
			case err == nil:
				missing = append(missing, lacking(g.AuthorizedOperations, []kmsg.ACLOperation{kmsg.ACLOperationRead}, "group", g.Group)...)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	parts := make([]string, len(missing))
	for i, m := range missing {
		parts[i] = m.String()
	}
	return fmt.Errorf("%w: the principal lacks %s (grant them with ACLs; see the README's list of the ACLs an application needs)", ErrNotAuthorized, strings.Join(parts, ", "))
}

// lacking returns the operations of want missing from a KIP-430 bit field;
// a broker that did not compute the field (INT32_MIN) lacks nothing.
func lacking(bits int32, want []kmsg.ACLOperation, resource, name string) []need {
	if bits == -2147483648 {
		return nil
	}
	var out []need
	for _, op := range want {
		// ALL implies every operation; READ and WRITE imply DESCRIBE.
		if bits&(1<<int32(op)) == 0 && bits&(1<<int32(kmsg.ACLOperationAll)) == 0 {
			out = append(out, need{op, resource, name})
		}
	}
	return out
}

// describeCreateErr says which permission a refused topic creation needed.
func describeCreateErr(topic string, err error) error {
	if errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) {
		return fmt.Errorf("%w: the principal lacks CREATE on topic %s (or on the cluster)", ErrNotAuthorized, topic)
	}
	return nil
}

// setupWithAccess checks the permissions on the topics that exist and on
// the group, creates the internal topics, then checks the permissions on
// those: a principal that lacks one fails here, naming it, instead of
// retrying forever in a stream thread.
func (a *App) setupWithAccess(ctx context.Context, cl *kgo.Client) (*topicPlan, error) {
	internal := a.topo.InternalTopics(a.appID)
	plan := accessPlan(a.appID, a.subs, nil, a.topo.GlobalStores())
	if err := checkAccess(ctx, cl, a.appID, plan); err != nil {
		return nil, err
	}
	tp, err := setupTopics(ctx, kadm.NewClient(cl), a.appID, a.subs, internal, a.cfg.replication)
	if err != nil {
		return nil, err
	}
	return tp, checkAccess(ctx, cl, "", accessPlan(a.appID, nil, tp.internal, nil))
}
