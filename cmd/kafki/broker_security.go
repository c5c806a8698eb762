package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kfake"
)

// brokerSecurity are the broker's TLS, SASL and ACL flags.
type brokerSecurity struct {
	tlsCert, tlsKey, clientCA string
	users, superusers         []string
	acls                      bool
}

func (s *brokerSecurity) flags(f *pflag.FlagSet) {
	f.StringVar(&s.tlsCert, "tls-cert", "", "serve TLS with this PEM certificate (chain); needs --tls-key")
	f.StringVar(&s.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.StringVar(&s.clientCA, "tls-client-ca", "", "require client certificates signed by a CA in this PEM file (two-way TLS)")
	f.StringArrayVar(&s.users, "user", nil, "SASL user NAME:PASSWORD for PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (repeatable); enables SASL")
	f.StringArrayVar(&s.superusers, "superuser", nil, "SASL superuser NAME:PASSWORD, allowed everything (repeatable); enables SASL")
	f.BoolVar(&s.acls, "acls", false, "enable authorization: SASL users other than superusers need ACLs (kafki acls add)")
}

// saslMechanisms are the mechanisms every --user and --superuser gets.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// kfakeOpts turns the flags into kfake options and a one-line summary of
// the listener's security, with no password in it.
func (s *brokerSecurity) kfakeOpts() ([]kfake.Opt, string, error) {
	var opts []kfake.Opt
	var desc []string
	useTLS := s.tlsCert != "" || s.tlsKey != ""
	if s.clientCA != "" && !useTLS {
		return nil, "", usagef("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if useTLS {
		if s.tlsCert == "" || s.tlsKey == "" {
			return nil, "", usagef("TLS needs both --tls-cert and --tls-key")
		}
		cfg, err := serverTLSConfig(s.tlsCert, s.tlsKey, s.clientCA)
		if err != nil {
			return nil, "", err
		}
		opts = append(opts, kfake.TLS(cfg))
	}
	type user struct{ name, pass string }
	parse := func(flag string, vals []string) ([]user, error) {
		var out []user
		for _, v := range vals {
			name, pass, ok := strings.Cut(v, ":")
			if !ok || name == "" || pass == "" {
				// The value holds a password: do not echo it.
				return nil, usagef("bad --%s: want NAME:PASSWORD", flag)
			}
			out = append(out, user{name, pass})
		}
		return out, nil
	}
	users, err := parse("user", s.users)
	if err != nil {
		return nil, "", err
	}
	supers, err := parse("superuser", s.superusers)
	if err != nil {
		return nil, "", err
	}
	useSASL := len(users)+len(supers) > 0
	if s.acls && len(supers) == 0 {
		return nil, "", usagef("--acls needs a --superuser to manage the ACLs (principals are SASL user names; this broker does not map client certificates to principals)")
	}
	var superNames []string
	for _, u := range supers {
		for _, m := range saslMechanisms {
			opts = append(opts, kfake.Superuser(m, u.name, u.pass))
		}
		superNames = append(superNames, u.name)
	}
	for _, u := range users {
		for _, m := range saslMechanisms {
			opts = append(opts, kfake.User(m, u.name, u.pass))
		}
	}
	if useSASL {
		opts = append(opts, kfake.EnableSASL())
	}
	if s.acls {
		opts = append(opts, kfake.EnableACLs())
	}

	proto := "PLAINTEXT"
	switch {
	case useTLS && useSASL:
		proto = "SASL_SSL"
	case useTLS:
		proto = "SSL"
	case useSASL:
		proto = "SASL_PLAINTEXT"
	}
	desc = append(desc, "security.protocol="+proto)
	if s.clientCA != "" {
		desc = append(desc, "client certificates required")
	}
	if useSASL {
		desc = append(desc, fmt.Sprintf("SASL %s for %d user(s)", strings.Join(saslMechanisms, "/"), len(users)+len(supers)))
	}
	if s.acls {
		desc = append(desc, "ACLs on (superusers: "+strings.Join(superNames, ", ")+")")
	}
	return opts, strings.Join(desc, ", "), nil
}

// serverTLSConfig is the TLS configuration of a server (the broker, the
// registry) from its --tls-cert, --tls-key and --tls-client-ca; nil
// without a certificate.
func serverTLSConfig(certFile, keyFile, clientCA string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		if clientCA != "" {
			return nil, usagef("--tls-client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, usagef("TLS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, usagef("bad --tls-cert/--tls-key: %v", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != "" {
		data, err := os.ReadFile(clientCA)
		if err != nil {
			return nil, usagef("bad --tls-client-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, usagef("bad --tls-client-ca %s: no PEM certificate in it", clientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
