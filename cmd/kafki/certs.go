package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kafki/kafki/runtime/clientconfig/devcerts"
)

func (a *app) certsCmd() *cobra.Command {
	var (
		dir     string
		hosts   []string
		clients []string
		days    int
	)
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make a CA, a broker certificate and client certificates for local two-way TLS",
		Long: `certs writes a certificate authority (ca.pem, ca.key), a broker certificate
(broker.pem, broker.key) for --host names, and for each --client a
certificate, its key, a PEM keystore holding both, and a client properties
file for --command-config. Keys are ECDSA P-256 without a password: they are
for development and tests, not for production.`,
		Example: `  kafki certs --dir certs --client alice
  kafki broker --tls-cert certs/broker.pem --tls-key certs/broker.key --tls-client-ca certs/ca.pem &
  kafki topics list --command-config certs/alice.properties`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if days < 1 {
				return usagef("--days must be at least 1, got %d", days)
			}
			f, err := devcerts.Generate(dir, devcerts.Options{Hosts: hosts, Clients: clients, Validity: time.Duration(days) * 24 * time.Hour})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "CA:     %s (key %s)\nBroker: %s (key %s)\n", f.CACert, f.CAKey, f.BrokerCert, f.BrokerKey)
			for _, c := range clients {
				cf := f.Clients[c]
				fmt.Fprintf(a.stdout, "Client %s: %s (key %s), client properties %s\n", c, cf.Cert, cf.Key, cf.Properties)
			}
			first := f.Clients[clients[0]]
			fmt.Fprintf(a.stdout, "\nStart a broker that requires client certificates:\n  kafki broker --tls-cert %s --tls-key %s --tls-client-ca %s\nConnect:\n  kafki topics list --command-config %s\n  kcat -b 127.0.0.1:9092 -X security.protocol=ssl -X ssl.ca.location=%s -X ssl.certificate.location=%s -X ssl.key.location=%s -L\n",
				f.BrokerCert, f.BrokerKey, f.CACert, first.Properties, f.CACert, first.Cert, first.Key)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "certs", "directory to write the files into (must not hold a ca.pem yet)")
	f.StringSliceVar(&hosts, "host", []string{"localhost", "127.0.0.1", "::1"}, "names and addresses the broker certificate is valid for (repeatable)")
	f.StringSliceVar(&clients, "client", []string{"client"}, "client certificate names (repeatable)")
	f.IntVar(&days, "days", 30, "validity of the certificates in days")
	return cmd
}
