package devcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options say what to make.
type Options struct {
	// CAName is the CA's common name; default "kafki-dev-ca".
	CAName string
	// Hosts are the names and IP addresses the broker certificate is valid
	// for; default localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Clients are the client names (certificate common names), one
	// certificate each; default "client".
	Clients []string
	// Validity of every certificate; default 30 days.
	Validity time.Duration
}

// Files are the paths Generate wrote.
type Files struct {
	Dir                   string
	CACert, CAKey         string
	BrokerCert, BrokerKey string
	// Clients maps a client name to its files.
	Clients map[string]ClientFiles
}

// ClientFiles are one client's certificate, key, the two in one PEM
// keystore, and a client properties file for security.protocol=SSL.
type ClientFiles struct {
	Cert, Key, Keystore, Properties string
}

// Generate writes ca.pem, ca.key, broker.pem, broker.key and, per client,
// NAME.pem, NAME.key, NAME-keystore.pem and NAME.properties into dir
// (created if needed). It refuses to overwrite an existing ca.pem so that
// certificates already handed out stay valid.
func Generate(dir string, o Options) (*Files, error) {
	if o.CAName == "" {
		o.CAName = "kafki-dev-ca"
	}
	if len(o.Hosts) == 0 {
		o.Hosts = []string{"localhost", "127.0.0.1", "::1"}
	}
	if len(o.Clients) == 0 {
		o.Clients = []string{"client"}
	}
	if o.Validity <= 0 {
		o.Validity = 30 * 24 * time.Hour
	}
	for _, c := range o.Clients {
		if c == "" || c == "ca" || c == "broker" || strings.ContainsAny(c, `/\:`) || strings.HasPrefix(c, ".") {
			return nil, fmt.Errorf("devcerts: bad client name %q (a plain file name other than ca and broker)", c)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devcerts: %w", err)
	}
	f := &Files{
		Dir:    dir,
		CACert: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca.key"),
		BrokerCert: filepath.Join(dir, "broker.pem"), BrokerKey: filepath.Join(dir, "broker.key"),
		Clients: map[string]ClientFiles{},
	}
	if _, err := os.Stat(f.CACert); err == nil {
		return nil, fmt.Errorf("devcerts: %s exists already: use another directory or remove it", f.CACert)
	}
	now := time.Now().Add(-time.Hour) // tolerate clock skew between processes
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: o.CAName, Organization: []string{"Kafki development"}},
		NotBefore:             now,
		NotAfter:              now.Add(o.Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("devcerts: CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writePEM(f.CACert, 0o644, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	if err := writeKey(f.CAKey, caKey); err != nil {
		return nil, err
	}

	leaf := func(cn string, server bool, certPath, keyPath string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		t := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"Kafki development"}},
			NotBefore:    now,
			NotAfter:     now.Add(o.Validity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if server {
			t.ExtKeyUsage = append(t.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
			for _, h := range o.Hosts {
				if ip := net.ParseIP(h); ip != nil {
					t.IPAddresses = append(t.IPAddresses, ip)
				} else {
					t.DNSNames = append(t.DNSNames, h)
				}
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &key.PublicKey, caKey)
		if err != nil {
			return fmt.Errorf("devcerts: %s: %w", cn, err)
		}
		if err := writePEM(certPath, 0o644, "CERTIFICATE", der); err != nil {
			return err
		}
		return writeKey(keyPath, key)
	}
	if err := leaf("broker", true, f.BrokerCert, f.BrokerKey); err != nil {
		return nil, err
	}
	for _, name := range o.Clients {
		cf := ClientFiles{
			Cert:       filepath.Join(dir, name+".pem"),
			Key:        filepath.Join(dir, name+".key"),
			Keystore:   filepath.Join(dir, name+"-keystore.pem"),
			Properties: filepath.Join(dir, name+".properties"),
		}
		if err := leaf(name, false, cf.Cert, cf.Key); err != nil {
			return nil, err
		}
		cert, _ := os.ReadFile(cf.Cert)
		key, _ := os.ReadFile(cf.Key)
		if err := os.WriteFile(cf.Keystore, append(key, cert...), 0o600); err != nil {
			return nil, fmt.Errorf("devcerts: %w", err)
		}
		abs := func(p string) string {
			if a, err := filepath.Abs(p); err == nil {
				return a
			}
			return p
		}
		props := fmt.Sprintf(`# Two-way TLS client settings for %s (made by kafki certs).
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location=%s
ssl.keystore.type=PEM
ssl.keystore.location=%s
`, name, abs(f.CACert), abs(cf.Keystore))
		if err := os.WriteFile(cf.Properties, []byte(props), 0o600); err != nil {
			return nil, fmt.Errorf("devcerts: %w", err)
		}
		f.Clients[name] = cf
	}
	return f, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}

func writePEM(path string, mode os.FileMode, typ string, der []byte) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("devcerts: %w", err)
	}
	return nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return errors.New("devcerts: cannot encode key")
	}
	return writePEM(path, 0o600, "PRIVATE KEY", der)
}
