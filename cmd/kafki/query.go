package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/state"
)

type queryOpts struct {
	appServer   string
	store       string
	key         string
	keyFormat   string
	valueFormat string
	instances   bool
	timeout     time.Duration
}

// errNotFound makes query exit with status 1 and a one-line message.
var errNotFound = errors.New("key not found")

func (a *app) queryCmd() *cobra.Command {
	var o queryOpts
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Read a running application's state stores (interactive queries)",
		Long: `query asks a running Kafki application, through the query endpoint of
any of its instances (the admin server: runtime.AdminAddr or
runtime.ApplicationServer), for the value of a key in a key-value store. The
instance asked forwards the query to the instance that hosts the key.
--instances lists every instance with its stores and tasks instead.

Keys and values are the bytes the store holds: --key-format and
--value-format say how to write the key and print the value (string, long:
8-byte big-endian as serde.Int64, int: 4-byte big-endian, base64, hex).`,
		Example: `  kafki query --app-server 127.0.0.1:8080 --store counts --key hello --value-format long
  kafki query --app-server 127.0.0.1:8080 --instances`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.appServer == "" {
				return usagef("--app-server is required")
			}
			ctx := cmd.Context()
			hc := &http.Client{Timeout: o.timeout}
			if o.instances {
				ms, err := runtime.Instances(ctx, hc, o.appServer)
				if err != nil {
					return err
				}
				for _, m := range ms {
					fmt.Fprintf(a.stdout, "%s stores=[%s] standby-stores=[%s] tasks=[%s] standby-tasks=[%s]\n", m.Host,
						strings.Join(m.Stores, ","), strings.Join(m.StandbyStores, ","), strings.Join(m.Tasks, ","), strings.Join(m.StandbyTasks, ","))
				}
				return nil
			}
			if o.store == "" || !cmd.Flags().Changed("key") {
				return usagef("--store and --key are required (or --instances)")
			}
			kb, err := encodeKey(o.key, o.keyFormat)
			if err != nil {
				return usageError{err}
			}
			if _, err := formatValue(nil, o.valueFormat); err != nil && !errors.Is(err, errShort) {
				return usageError{err}
			}
			v, found, timestamped, err := runtime.RawGet(ctx, hc, o.appServer, o.store, kb)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("store %s: %w: %q", o.store, errNotFound, o.key)
			}
			if timestamped {
				if _, v, err = state.DecodeTimestamped(v); err != nil {
					return fmt.Errorf("store %s: %w", o.store, err)
				}
			}
			s, err := formatValue(v, o.valueFormat)
			if err != nil {
				return fmt.Errorf("store %s: value of %q: %w", o.store, o.key, err)
			}
			fmt.Fprintln(a.stdout, s)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.appServer, "app-server", "", "host:port of an instance's admin server")
	f.StringVar(&o.store, "store", "", "key-value store to read")
	f.StringVar(&o.key, "key", "", "key to read")
	f.StringVar(&o.keyFormat, "key-format", "string", "how --key is written: string, long, int, base64, hex")
	f.StringVar(&o.valueFormat, "value-format", "string", "how to print the value: string, long, int, base64, hex")
	f.BoolVar(&o.instances, "instances", false, "list the application's instances with their stores instead")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "give up on an answer after this long")
	return cmd
}

func encodeKey(k, format string) ([]byte, error) {
	switch format {
	case "string":
		return []byte(k), nil
	case "long":
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--key %q is not a long: %w", k, err)
		}
		return binary.BigEndian.AppendUint64(nil, uint64(n)), nil
	case "int":
		n, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--key %q is not an int: %w", k, err)
		}
		return binary.BigEndian.AppendUint32(nil, uint32(n)), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			return nil, fmt.Errorf("--key is not base64: %w", err)
		}
		return b, nil
	case "hex":
		b, err := hex.DecodeString(k)
		if err != nil {
			return nil, fmt.Errorf("--key is not hex: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown --key-format %q (string, long, int, base64, hex)", format)
}

var errShort = errors.New("value has the wrong length")

func formatValue(v []byte, format string) (string, error) {
	switch format {
	case "string":
		return string(v), nil
	case "long":
		if len(v) != 8 {
			return "", fmt.Errorf("%w for a long: %d bytes", errShort, len(v))
		}
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10), nil
	case "int":
		if len(v) != 4 {
			return "", fmt.Errorf("%w for an int: %d bytes", errShort, len(v))
		}
		return strconv.FormatInt(int64(int32(binary.BigEndian.Uint32(v))), 10), nil
	case "base64":
		return base64.StdEncoding.EncodeToString(v), nil
	case "hex":
		return hex.EncodeToString(v), nil
	}
	return "", fmt.Errorf("unknown --value-format %q (string, long, int, base64, hex)", format)
}
