package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kafki/kafki/runtime/clientconfig"
)

// EnvBrokers names the environment variable with the default seed brokers.
const EnvBrokers = "KAFKI_BROKERS"

// defaultBrokers is used when neither --brokers nor KAFKI_BROKERS is given.
const defaultBrokers = "127.0.0.1:9092"

// app holds what every command shares: the streams and the global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	brokers        string        // --brokers as given
	connectTimeout time.Duration // --connect-timeout
	requestTimeout time.Duration // --request-timeout
	clientLog      string        // --client-log-level (hidden)

	commandConfig string               // --command-config
	cc            *clientconfig.Config // its content, once read
	ccErr         error
	ccLoaded      bool
}

// usageError is a mistake in the command line: bad flag, bad argument.
// It exits with status 2 instead of 1.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run runs the command line args and returns the exit status. main calls it
// with the process's streams; tests call it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "kafki: internal error: %v\n", r)
			code = 70
		}
	}()
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	help := "kafki --help"
	if cmd != nil {
		help = cmd.CommandPath() + " --help"
	}
	var ue usageError
	switch {
	case errors.As(err, &ue) || isCobraUsageError(err):
		fmt.Fprintf(stderr, "kafki: %s (see %s)\n", oneLine(err.Error()), help)
		return 2
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(stderr, "kafki: interrupted")
		return 130
	default:
		fmt.Fprintf(stderr, "kafki: %s\n", oneLine(err.Error()))
		return 1
	}
}

var errInterrupted = errors.New("interrupted")

// isCobraUsageError recognises the errors cobra makes itself for an unknown
// command or a missing or extra argument.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "required flag", "invalid argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "; ")
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "kafki",
		Short: "Kafki's command line: a development broker, topic tools, console producer and consumer",
		Long: `kafki runs a Kafka-protocol broker for development and talks to any Kafka
cluster: create and describe topics, produce lines from standard input,
consume records to standard output.

  kafki broker                                   # a broker on 127.0.0.1:9092
  kafki topics create test --partitions 1
  echo "This is a message" | kafki produce test
  kafki consume test --from-beginning

The client commands find the cluster through --brokers, else the ` + EnvBrokers + `
environment variable, else ` + defaultBrokers + `. A secured cluster (TLS, SASL)
is reached with --command-config FILE, a Kafka client properties file, as
Kafka's own tools take it (kafki certs makes certificates to try it).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.brokers, "brokers", "", "seed broker addresses, comma-separated (default $"+EnvBrokers+", else "+defaultBrokers+")")
	pf.DurationVar(&a.connectTimeout, "connect-timeout", 10*time.Second, "how long to wait for the cluster to answer")
	pf.DurationVar(&a.requestTimeout, "request-timeout", 30*time.Second, "how long to wait for one operation (create, delete, describe, flush)")
	pf.StringVar(&a.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, ssl.*, sasl.*, bootstrap.servers (default $"+EnvCommandConfig+")")
	pf.StringVar(&a.clientLog, "client-log-level", "none", "franz-go client log on standard error: none, error, warn, info or debug")
	pf.MarkHidden("client-log-level")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(a.brokerCmd(), a.topicsCmd(), a.produceCmd(), a.consumeCmd(), a.registryCmd(), a.aclsCmd(), a.certsCmd())
	root.AddCommand(a.connectCmd(), a.queryCmd())
	return root
}

// exactArgs is cobra.ExactArgs with a message that names what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return usagef("missing %s", strings.Join(names[len(args):], " "))
		}
		if len(args) > len(names) {
			return usagef("unexpected argument %q", args[len(names)])
		}
		return nil
	}
}

// minArgs requires at least one argument, named name.
func minArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("missing %s", name)
		}
		return nil
	}
}

// seedBrokers returns the seed addresses from --brokers, KAFKI_BROKERS or
// the default, each checked to be host:port.
func (a *app) seedBrokers() ([]string, error) {
	raw := a.brokers
	if raw == "" {
		raw = os.Getenv(EnvBrokers)
	}
	if strings.TrimSpace(raw) == "" {
		raw = a.configBootstrap()
	}
	if strings.TrimSpace(raw) == "" {
		raw = defaultBrokers
	}
	var seeds []string
	for _, s := range strings.Split(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if err := checkHostPort(s); err != nil {
			return nil, usagef("bad broker address %q: %v", s, err)
		}
		seeds = append(seeds, s)
	}
	if len(seeds) == 0 {
		return nil, usagef("no broker address in %q", raw)
	}
	return seeds, nil
}
