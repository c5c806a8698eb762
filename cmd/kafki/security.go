package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/runtime/clientconfig"
)

// EnvCommandConfig names the environment variable with the default
// --command-config file.
const EnvCommandConfig = "KAFKI_COMMAND_CONFIG"

// clientConfig returns the parsed --command-config file (else
// $KAFKI_COMMAND_CONFIG), or nil when none is given. It is read once.
func (a *app) clientConfig() (*clientconfig.Config, error) {
	if a.ccLoaded {
		return a.cc, a.ccErr
	}
	a.ccLoaded = true
	path := a.commandConfig
	if path == "" {
		path = os.Getenv(EnvCommandConfig)
	}
	if path == "" {
		return nil, nil
	}
	a.cc, a.ccErr = clientconfig.Load(path)
	if a.ccErr != nil {
		a.ccErr = usagef("bad --command-config: %v", a.ccErr)
		return nil, a.ccErr
	}
	if len(a.cc.Ignored) > 0 && a.clientLog != "" && a.clientLog != "none" {
		fmt.Fprintf(a.stderr, "kafki: %s: not used by kafki: %s\n", path, strings.Join(a.cc.Ignored, ", "))
	}
	return a.cc, nil
}

// securityOpts returns the TLS and SASL options of --command-config.
func (a *app) securityOpts() ([]kgo.Opt, error) {
	cc, err := a.clientConfig()
	if err != nil || cc == nil {
		return nil, err
	}
	opts, err := cc.SecurityOpts()
	if err != nil {
		return nil, usagef("bad --command-config: %v", err)
	}
	return opts, nil
}

// configBootstrap returns bootstrap.servers of --command-config, if any.
func (a *app) configBootstrap() string {
	cc, _ := a.clientConfig()
	if cc == nil {
		return ""
	}
	return strings.Join(cc.BootstrapServers, ",")
}

// isAuthErr reports an error retrying will not cure: the broker refused
// the client's credentials or certificate, or the client refused the
// broker's certificate.
func isAuthErr(err error) bool {
	if err == nil {
		return false
	}
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var ae tls.AlertError
	if errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) || errors.As(err, &ae) {
		return true
	}
	if errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.IllegalSaslState) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"remote error: tls:", "x509:", "SASL"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// describeSecurityErr explains a TLS or SASL failure in the words of the
// settings to change. It never includes a secret: the messages it starts
// from are the TLS stack's and the broker's.
func (a *app) describeSecurityErr(err error) string {
	cc, _ := a.clientConfig()
	msg := err.Error()
	usesTLS := cc != nil && (cc.SecurityProtocol == clientconfig.SSL || cc.SecurityProtocol == clientconfig.SASLSSL)
	usesSASL := cc != nil && (cc.SecurityProtocol == clientconfig.SASLPlaintext || cc.SecurityProtocol == clientconfig.SASLSSL)
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	switch {
	case strings.Contains(msg, "certificate required"):
		return "TLS refused: the broker requires a client certificate (set ssl.keystore.location, or ssl.certificate.location and ssl.key.location, in --command-config)"
	case strings.Contains(msg, "remote error: tls: unknown certificate authority"), strings.Contains(msg, "remote error: tls: bad certificate"):
		return "TLS refused: the broker did not accept the client certificate (is it signed by the CA the broker trusts?): " + msg
	case errors.As(err, &ue):
		return "TLS refused: the broker's certificate is not signed by a trusted CA (set ssl.truststore.location in --command-config): " + msg
	case errors.As(err, &he):
		return "TLS refused: the broker's certificate does not name the address dialed: " + msg
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return "TLS failed: the broker does not speak TLS (use security.protocol=PLAINTEXT or SASL_PLAINTEXT)"
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return "SASL authentication failed (wrong user name or password?): " + kafkaErr(err)
	case usesSASL && (errors.Is(err, io.EOF) || strings.Contains(msg, "SASL") || strings.Contains(msg, "connection reset")):
		return fmt.Sprintf("SASL authentication of user %q failed: the broker closed the connection (wrong user name, password or mechanism %s?)", cc.Username, cc.Mechanism)
	case !usesTLS && (errors.Is(err, io.EOF) || strings.Contains(msg, "connection reset")):
		return "the broker closed the connection (does it require TLS or SASL? set security.protocol in --command-config): " + msg
	}
	return ""
}
