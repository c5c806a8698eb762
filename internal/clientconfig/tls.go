package clientconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafki/kafki/serde/registry"
)

// TLSConfig returns the TLS settings for the cluster, or nil when
// security.protocol does not use TLS. Files are read now.
func (c *Config) TLSConfig() (*tls.Config, error) {
	if c.SecurityProtocol != SSL && c.SecurityProtocol != SASLSSL {
		return nil, nil
	}
	cfg, err := c.TLS.build("ssl.")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cfg, nil
}

// RegistryTLSConfig returns the TLS settings for https schema registry
// URLs: schema.registry.ssl.* when given, else nil (the system roots).
func (c *Config) RegistryTLSConfig() (*tls.Config, error) {
	if c.RegistryTLS.empty() {
		return nil, nil
	}
	cfg, err := c.RegistryTLS.build("schema.registry.ssl.")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cfg, nil
}

// KgoOpts returns the franz-go options for the settings: seed brokers
// (when bootstrap.servers is given) and SecurityOpts.
func (c *Config) KgoOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if len(c.BootstrapServers) > 0 {
		opts = append(opts, kgo.SeedBrokers(c.BootstrapServers...))
	}
	sec, err := c.SecurityOpts()
	if err != nil {
		return nil, err
	}
	return append(opts, sec...), nil
}

// SecurityOpts returns the TLS dialer (SSL, SASL_SSL) and the SASL
// mechanism (SASL_PLAINTEXT, SASL_SSL); nothing for PLAINTEXT.
func (c *Config) SecurityOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SecurityProtocol != SASLPlaintext && c.SecurityProtocol != SASLSSL {
		return opts, nil
	}
	user, pass := c.Username, c.Password.Reveal()
	switch c.Mechanism {
	case Plain:
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
	case ScramSHA256:
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	case ScramSHA512:
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	}
	return opts, nil
}

// RegistryOpts returns the schema registry client options: basic
// authentication (basic.auth.user.info) and TLS (schema.registry.ssl.*).
func (c *Config) RegistryOpts() ([]registry.ClientOpt, error) {
	var opts []registry.ClientOpt
	if c.RegistryUser != "" || c.RegistryPassword != "" {
		opts = append(opts, registry.BasicAuth(c.RegistryUser, c.RegistryPassword.Reveal()))
	}
	tc, err := c.RegistryTLSConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		opts = append(opts, registry.TLS(tc))
	}
	return opts, nil
}

func (t TLS) build(prefix string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" || t.CAPEM != "" {
		pool := x509.NewCertPool()
		if t.CAFile != "" {
			data, err := os.ReadFile(t.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%struststore: %w", prefix, err)
			}
			if err := addCerts(pool, data); err != nil {
				return nil, fmt.Errorf("%struststore %s: %w", prefix, t.CAFile, err)
			}
		}
		if t.CAPEM != "" {
			if err := addCerts(pool, []byte(t.CAPEM)); err != nil {
				return nil, fmt.Errorf("%struststore.certificates: %w", prefix, err)
			}
		}
		cfg.RootCAs = pool
	}
	certPEM, keyPEM := []byte(t.CertPEM), []byte(t.KeyPEM.Reveal())
	if t.CertFile != "" {
		data, err := os.ReadFile(t.CertFile)
		if err != nil {
			return nil, fmt.Errorf("%scertificate: %w", prefix, err)
		}
		certPEM = data
	}
	if t.KeyFile != "" {
		data, err := os.ReadFile(t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%skey: %w", prefix, err)
		}
		keyPEM = data
	}
	switch {
	case len(certPEM) > 0 && len(keyPEM) > 0:
		if err := checkKeyPEM(keyPEM); err != nil {
			return nil, fmt.Errorf("%skey: %w", prefix, err)
		}
		// A keystore PEM file holds both; X509KeyPair skips the other kind.
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// Go's message names no secret, but may quote PEM block types.
			return nil, fmt.Errorf("%scertificate and key do not make a key pair: %s", prefix, keyPairReason(err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	case len(certPEM) > 0:
		return nil, fmt.Errorf("%scertificate given without its private key (ssl.key.location)", prefix)
	case len(keyPEM) > 0:
		return nil, fmt.Errorf("%skey given without its certificate (ssl.certificate.location)", prefix)
	}
	if t.NoVerify {
		cfg.InsecureSkipVerify = true
	} else if t.NoHostnameCheck {
		// Verify the chain but not the name, as Kafka does with an empty
		// ssl.endpoint.identification.algorithm.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: the server sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}

func addCerts(pool *x509.CertPool, data []byte) error {
	if !strings.Contains(string(data), "-----BEGIN") {
		return errors.New("not PEM (JKS and PKCS12 truststores are not supported: export the CA certificate as PEM, e.g. keytool -exportcert -rfc)")
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("bad certificate: %w", err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return errors.New("no CERTIFICATE block")
	}
	return nil
}

// checkKeyPEM refuses encrypted keys up front, with a way out.
func checkKeyPEM(data []byte) error {
	s := string(data)
	if !strings.Contains(s, "-----BEGIN") {
		return errors.New("not PEM (JKS and PKCS12 keystores are not supported: convert with openssl pkcs12 -nodes and set ssl.keystore.type=PEM)")
	}
	if strings.Contains(s, "ENCRYPTED PRIVATE KEY") || strings.Contains(s, "Proc-Type: 4,ENCRYPTED") {
		return errors.New("the private key is encrypted, which is not supported: decrypt it (openssl pkey -in KEY -out KEY.plain) and keep the file private")
	}
	return nil
}

func keyPairReason(err error) string {
	msg := err.Error()
	// Never echo PEM content; Go's messages are short, fixed texts.
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}
