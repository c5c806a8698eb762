package clientconfig

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// Security protocols (security.protocol).
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

// SASL mechanisms (sasl.mechanism) this package supports.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// ErrConfig is wrapped by every error about the content of a properties
// file: a bad value, a missing setting, an unsupported feature.
var ErrConfig = errors.New("client config")

// TLS holds the TLS settings of one connection kind (the cluster, or the
// schema registry). PEM is the only format Go reads: JKS and PKCS12 stores
// are refused with a message that says how to convert them.
type TLS struct {
	// CAFile is a PEM bundle of the certificate authorities to trust
	// (ssl.truststore.location with ssl.truststore.type=PEM, or
	// librdkafka's ssl.ca.location). Empty: the system roots.
	CAFile string
	// CAPEM holds CA certificates inline (ssl.truststore.certificates).
	CAPEM string
	// CertFile and KeyFile are the client certificate chain and its key for
	// two-way TLS (ssl.certificate.location and ssl.key.location), or one
	// PEM file holding both (ssl.keystore.location with
	// ssl.keystore.type=PEM).
	CertFile, KeyFile string
	// CertPEM and KeyPEM hold them inline (ssl.keystore.certificate.chain,
	// ssl.keystore.key).
	CertPEM string
	KeyPEM  Secret
	// KeyPassword is ssl.key.password; encrypted keys are refused.
	KeyPassword Secret
	// NoHostnameCheck is ssl.endpoint.identification.algorithm set empty:
	// the chain is still verified, the host name is not.
	NoHostnameCheck bool
	// NoVerify is librdkafka's enable.ssl.certificate.verification=false:
	// nothing is verified. For tests only.
	NoVerify bool
	// ServerName overrides the name the certificate is checked against.
	ServerName string
}

func (t TLS) empty() bool { return t == TLS{} }

// Config is a parsed client properties file.
type Config struct {
	// BootstrapServers is bootstrap.servers, when given.
	BootstrapServers []string
	// SecurityProtocol is PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL.
	SecurityProtocol string
	// TLS is used with SSL and SASL_SSL.
	TLS TLS
	// Mechanism, Username and Password are the SASL settings, from
	// sasl.mechanism and sasl.jaas.config (or librdkafka's sasl.username
	// and sasl.password).
	Mechanism string
	Username  string
	Password  Secret

	// RegistryURLs is schema.registry.url (comma-separated).
	RegistryURLs []string
	// RegistryUser and RegistryPassword are basic.auth.user.info.
	RegistryUser     string
	RegistryPassword Secret
	// RegistryTLS is schema.registry.ssl.*.
	RegistryTLS TLS

	// Ignored lists the keys this package does not use (producer and
	// consumer tuning, for instance), for the caller to mention.
	Ignored []string
}

// Load reads and checks the properties file at path; certificate and key
// files it names are read (and checked) as well.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	c, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	if _, err := c.TLSConfig(); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	if _, err := c.RegistryTLSConfig(); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	return c, nil
}

// Read is Parse on the whole of r.
func Read(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	return Parse(string(data))
}

// Parse reads properties text and checks the settings against each other.
// Files named in it are not read here.
func Parse(text string) (*Config, error) {
	props, err := ParseProperties(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	m := make(map[string]string, len(props))
	for _, p := range props {
		m[p.Key] = p.Value
	}
	return FromMap(m)
}

// FromMap builds a Config from properties already parsed, as Kafka's
// clients take a Properties object.
func FromMap(props map[string]string) (*Config, error) {
	c, err := fromMap(props)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, nil
}

func fromMap(props map[string]string) (*Config, error) {
	c := &Config{SecurityProtocol: Plaintext}
	var jaas string
	var sslKeys, saslKeys []string
	var keystoreType, truststoreType string
	regSource := ""
	var regUserInfo string
	for _, k := range slices.Sorted(maps.Keys(props)) {
		v := strings.TrimSpace(props[k])
		if rest, ok := strings.CutPrefix(k, "schema.registry.ssl."); ok {
			if err := setTLS(&c.RegistryTLS, "ssl."+rest, v, nil, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			continue
		}
		switch k {
		case "bootstrap.servers":
			c.BootstrapServers = splitList(v)
		case "security.protocol":
			c.SecurityProtocol = strings.ToUpper(v)
		case "sasl.mechanism", "sasl.mechanisms":
			c.Mechanism = strings.ToUpper(v)
			saslKeys = append(saslKeys, k)
		case "sasl.jaas.config":
			jaas = props[k]
			saslKeys = append(saslKeys, k)
		case "sasl.username":
			c.Username = v
			saslKeys = append(saslKeys, k)
		case "sasl.password":
			c.Password = Secret(props[k])
			saslKeys = append(saslKeys, k)
		case "schema.registry.url":
			c.RegistryURLs = splitList(v)
		case "basic.auth.credentials.source":
			regSource = strings.ToUpper(v)
		case "basic.auth.user.info", "schema.registry.basic.auth.user.info":
			regUserInfo = props[k]
		default:
			if strings.HasPrefix(k, "ssl.") || k == "enable.ssl.certificate.verification" {
				if err := setTLS(&c.TLS, k, v, &keystoreType, &truststoreType); err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				sslKeys = append(sslKeys, k)
				continue
			}
			c.Ignored = append(c.Ignored, k)
		}
	}

	switch c.SecurityProtocol {
	case Plaintext, SSL, SASLPlaintext, SASLSSL:
	default:
		return nil, fmt.Errorf("security.protocol %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", c.SecurityProtocol)
	}
	useTLS := c.SecurityProtocol == SSL || c.SecurityProtocol == SASLSSL
	useSASL := c.SecurityProtocol == SASLPlaintext || c.SecurityProtocol == SASLSSL
	if !useTLS && hasSetting(c.TLS) {
		return nil, fmt.Errorf("%s given but security.protocol is %s: set security.protocol=SSL (or SASL_SSL) to use TLS", strings.Join(sslKeys, ", "), c.SecurityProtocol)
	}
	if !useSASL && len(saslKeys) > 0 {
		return nil, fmt.Errorf("%s given but security.protocol is %s: set security.protocol=SASL_SSL (or SASL_PLAINTEXT) to use SASL", strings.Join(saslKeys, ", "), c.SecurityProtocol)
	}
	if err := checkStoreType("ssl.keystore.type", keystoreType); err != nil {
		return nil, err
	}
	if err := checkStoreType("ssl.truststore.type", truststoreType); err != nil {
		return nil, err
	}

	if jaas != "" {
		l, err := parseJAAS(jaas)
		if err != nil {
			return nil, fmt.Errorf("sasl.jaas.config: %w", err)
		}
		mod := l.module[strings.LastIndexByte(l.module, '.')+1:]
		switch mod {
		case "PlainLoginModule":
			if c.Mechanism == "" {
				c.Mechanism = Plain
			} else if c.Mechanism != Plain {
				return nil, fmt.Errorf("sasl.jaas.config uses PlainLoginModule but sasl.mechanism is %s", c.Mechanism)
			}
		case "ScramLoginModule":
			if c.Mechanism != ScramSHA256 && c.Mechanism != ScramSHA512 {
				return nil, fmt.Errorf("sasl.jaas.config uses ScramLoginModule: set sasl.mechanism to SCRAM-SHA-256 or SCRAM-SHA-512")
			}
		default:
			return nil, fmt.Errorf("sasl.jaas.config: login module %s is not supported (want PlainLoginModule or ScramLoginModule)", l.module)
		}
		if u, ok := l.options["username"]; ok {
			c.Username = u
		}
		if p, ok := l.options["password"]; ok {
			c.Password = Secret(p)
		}
	}
	if useSASL {
		switch c.Mechanism {
		case Plain, ScramSHA256, ScramSHA512:
		case "":
			return nil, errors.New("security.protocol is " + c.SecurityProtocol + " but sasl.mechanism is not set (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		default:
			return nil, fmt.Errorf("sasl.mechanism %q is not supported (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.Mechanism)
		}
		if c.Username == "" {
			return nil, errors.New("SASL needs a user name: set sasl.jaas.config (username=\"...\" password=\"...\") or sasl.username")
		}
		if c.Password == "" {
			return nil, fmt.Errorf("SASL user %q has no password: set it in sasl.jaas.config or sasl.password", c.Username)
		}
	}

	if regUserInfo != "" {
		if regSource != "" && regSource != "USER_INFO" {
			return nil, fmt.Errorf("basic.auth.credentials.source %q is not supported (want USER_INFO)", regSource)
		}
		u, p, ok := strings.Cut(regUserInfo, ":")
		if !ok {
			return nil, errors.New("basic.auth.user.info: want user:password")
		}
		c.RegistryUser, c.RegistryPassword = u, Secret(p)
	}
	return c, nil
}

// hasSetting reports whether any TLS field other than the defaults is set.
func hasSetting(t TLS) bool { return !t.empty() }

func checkStoreType(key, typ string) error {
	switch strings.ToUpper(typ) {
	case "", "PEM":
		return nil
	case "JKS", "PKCS12":
		return fmt.Errorf("%s %s is not supported: Go reads PEM only; convert the store (keytool -importkeystore -deststoretype PKCS12, then openssl pkcs12 -nodes) and set %s=PEM", key, typ, key)
	}
	return fmt.Errorf("%s %q: want PEM", key, typ)
}

func setTLS(t *TLS, k, v string, keystoreType, truststoreType *string) error {
	switch k {
	case "ssl.truststore.location", "ssl.ca.location":
		t.CAFile = v
	case "ssl.truststore.certificates":
		t.CAPEM = v
	case "ssl.keystore.location":
		if t.CertFile == "" {
			t.CertFile = v
		}
		if t.KeyFile == "" {
			t.KeyFile = v
		}
	case "ssl.certificate.location":
		t.CertFile = v
	case "ssl.key.location":
		t.KeyFile = v
	case "ssl.keystore.certificate.chain", "ssl.certificate.pem":
		t.CertPEM = v
	case "ssl.keystore.key", "ssl.key.pem":
		t.KeyPEM = Secret(v)
	case "ssl.key.password", "ssl.keystore.password", "ssl.truststore.password":
		// Passwords of PEM stores: Kafka needs them only for encrypted
		// keys, which TLSConfig refuses with a clear message.
		if k == "ssl.key.password" {
			t.KeyPassword = Secret(v)
		}
	case "ssl.keystore.type":
		if keystoreType != nil {
			*keystoreType = v
		} else if err := checkStoreType(k, v); err != nil {
			return err
		}
	case "ssl.truststore.type":
		if truststoreType != nil {
			*truststoreType = v
		} else if err := checkStoreType(k, v); err != nil {
			return err
		}
	case "ssl.endpoint.identification.algorithm":
		switch strings.ToLower(v) {
		case "":
			t.NoHostnameCheck = true
		case "https":
		default:
			return fmt.Errorf("%q: want https or empty", v)
		}
	case "enable.ssl.certificate.verification":
		switch strings.ToLower(v) {
		case "false":
			t.NoVerify = true
		case "true":
		default:
			return fmt.Errorf("%q: want true or false", v)
		}
	case "ssl.server.name", "ssl.sni.hostname":
		t.ServerName = v
	case "ssl.protocol", "ssl.enabled.protocols", "ssl.cipher.suites", "ssl.keymanager.algorithm", "ssl.trustmanager.algorithm", "ssl.secure.random.implementation", "ssl.provider", "ssl.engine.factory.class":
		// JVM tuning with no Go equivalent; Go's defaults (TLS 1.2+) apply.
	default:
		return errors.New("unknown TLS setting")
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// String describes the config with every secret redacted.
func (c *Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "security.protocol=%s", c.SecurityProtocol)
	if len(c.BootstrapServers) > 0 {
		fmt.Fprintf(&b, " bootstrap.servers=%s", strings.Join(c.BootstrapServers, ","))
	}
	if c.SecurityProtocol == SSL || c.SecurityProtocol == SASLSSL {
		b.WriteString(" tls=" + c.TLS.describe())
	}
	if c.Mechanism != "" {
		fmt.Fprintf(&b, " sasl.mechanism=%s user=%s password=%s", c.Mechanism, c.Username, c.Password)
	}
	if len(c.RegistryURLs) > 0 {
		fmt.Fprintf(&b, " schema.registry.url=%s", strings.Join(c.RegistryURLs, ","))
	}
	if c.RegistryUser != "" {
		fmt.Fprintf(&b, " registry.user=%s registry.password=%s", c.RegistryUser, c.RegistryPassword)
	}
	return b.String()
}

func (t TLS) describe() string {
	var parts []string
	if t.CAFile != "" {
		parts = append(parts, "ca="+t.CAFile)
	}
	if t.CAPEM != "" {
		parts = append(parts, "ca=inline")
	}
	if t.CertFile != "" {
		parts = append(parts, "cert="+t.CertFile)
	}
	if t.CertPEM != "" {
		parts = append(parts, "cert=inline")
	}
	if t.KeyFile != "" || t.KeyPEM != "" {
		parts = append(parts, "key="+redacted)
	}
	if t.NoHostnameCheck {
		parts = append(parts, "no-hostname-check")
	}
	if t.NoVerify {
		parts = append(parts, "no-verify")
	}
	if len(parts) == 0 {
		return "system-roots"
	}
	return "{" + strings.Join(parts, " ") + "}"
}
