package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// checkHostPort accepts host:port with a port in 1..65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want host:port")
	}
	if host == "" {
		return errors.New("missing host")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// connect returns a client on the cluster once a broker has answered, or an
// error naming the seed brokers when none answers within --connect-timeout.
// franz-go retries dials forever on its own; this bounds the wait.
func (a *app) connect(ctx context.Context, extra ...kgo.Opt) (*kgo.Client, error) {
	seeds, err := a.seedBrokers()
	if err != nil {
		return nil, err
	}
	dial := a.connectTimeout
	if dial <= 0 || dial > 10*time.Second {
		dial = 10 * time.Second
	}
	sec, err := a.securityOpts()
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("kafki"),
		kgo.DialTimeout(dial),
	}, sec...)
	opts = append(opts, extra...)
	if a.clientLog != "" && a.clientLog != "none" {
		var lvl kgo.LogLevel
		switch a.clientLog {
		case "error":
			lvl = kgo.LogLevelError
		case "warn":
			lvl = kgo.LogLevelWarn
		case "info":
			lvl = kgo.LogLevelInfo
		case "debug":
			lvl = kgo.LogLevelDebug
		default:
			return nil, usagef("bad --client-log-level %q: want none, error, warn, info or debug", a.clientLog)
		}
		opts = append(opts, kgo.WithLogger(kgo.BasicLogger(a.stderr, lvl, nil)))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, usageError{err}
	}
	if err := a.ping(ctx, cl, seeds); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// ping waits until one of the brokers answers a metadata request. A broker
// that is starting up refuses connections for a moment, so ping retries
// until --connect-timeout.
func (a *app) ping(ctx context.Context, cl *kgo.Client, seeds []string) error {
	timeout := a.connectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		err := cl.Ping(pctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errInterrupted
		}
		if !isContextErr(err) || last == nil {
			last = err
		}
		if isAuthErr(err) {
			break // retrying will not change the answer
		}
		if pctx.Err() != nil {
			break
		}
		select {
		case <-pctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
		if pctx.Err() != nil {
			break
		}
	}
	reason := describeNetErr(last)
	if last != nil {
		if s := a.describeSecurityErr(last); s != "" {
			return fmt.Errorf("cannot connect to broker(s) %s: %s", strings.Join(seeds, ","), s)
		}
	}
	return fmt.Errorf("cannot reach broker(s) %s within %s: %s", strings.Join(seeds, ","), timeout, reason)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// describeNetErr shortens a dial error to its useful part.
func describeNetErr(err error) string {
	if err == nil {
		return "no answer"
	}
	if isContextErr(err) {
		return "no answer (timed out)"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		if op.Op == "dial" {
			return "dial: " + op.Err.Error()
		}
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

// opContext bounds one operation by --request-timeout.
func (a *app) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	t := a.requestTimeout
	if t <= 0 {
		t = 30 * time.Second
	}
	return context.WithTimeout(ctx, t)
}

// opError turns an operation's error into a one-line message, telling an
// interrupt and a timeout apart from a broker's answer.
func (a *app) opError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	if isContextErr(err) {
		return fmt.Errorf("%s: no answer within %s (--request-timeout)", what, a.requestTimeout)
	}
	return fmt.Errorf("%s: %s", what, kafkaErr(err))
}

// kafkaErr formats a broker error code with its description.
func kafkaErr(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message + ": " + ke.Description
	}
	return err.Error()
}

// errNoTopic is the error for a topic the cluster does not have.
func errNoTopic(topic string) error {
	return fmt.Errorf("topic %q does not exist (create it with: kafki topics create %s)", topic, topic)
}

// topicDetail returns the metadata of one topic, or an error naming it when
// the cluster does not have it. Nothing is auto-created.
func (a *app) topicDetail(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	octx, cancel := a.opContext(ctx)
	defer cancel()
	tds, err := adm.ListTopicsWithInternal(octx, topic)
	if err != nil {
		return kadm.TopicDetail{}, a.opError(ctx, "describe topic "+strconv.Quote(topic), err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return kadm.TopicDetail{}, errNoTopic(topic)
	}
	if td.Err != nil {
		return kadm.TopicDetail{}, a.opError(ctx, "describe topic "+strconv.Quote(topic), td.Err)
	}
	return td, nil
}

// closeClient closes cl without waiting longer than a few seconds when
// the cluster has gone away.
func closeClient(cl *kgo.Client) {
	done := make(chan struct{})
	go func() {
		cl.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// validTopicName applies Kafka's rules for topic names.
func validTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name is %d characters long, the maximum is 249", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q has %q: only ASCII letters, digits, '.', '_' and '-' are allowed", name, r)
		}
	}
	return nil
}
