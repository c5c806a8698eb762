package connect

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid configuration")

// Config is a connector, task or worker configuration with typed getters
// that name the key in their errors.
type Config map[string]string

func configErr(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, key, fmt.Sprintf(format, args...))
}

// String returns the value of key, or def when it is missing or empty.
func (c Config) String(key, def string) string {
	if v, ok := c[key]; ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

// Required returns the value of key or an error naming it.
func (c Config) Required(key string) (string, error) {
	v := c.String(key, "")
	if v == "" {
		return "", configErr(key, "missing required setting")
	}
	return v, nil
}

// Int returns key as an integer, def when missing.
func (c Config) Int(key string, def int) (int, error) {
	v := c.String(key, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, configErr(key, "%q is not an integer", v)
	}
	return n, nil
}

// Bool returns key as a boolean, def when missing.
func (c Config) Bool(key string, def bool) (bool, error) {
	v := c.String(key, "")
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, configErr(key, "%q is not true or false", v)
	}
	return b, nil
}

// Millis returns key, a count of milliseconds, as a duration.
func (c Config) Millis(key string, def time.Duration) (time.Duration, error) {
	v := c.String(key, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, configErr(key, "%q is not a number of milliseconds", v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// List returns key split on commas, trimmed, empty items dropped.
func (c Config) List(key string) []string {
	var out []string
	for _, s := range strings.Split(c[key], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// OneOf returns key, which must be one of allowed (def when missing).
func (c Config) OneOf(key, def string, allowed ...string) (string, error) {
	v := c.String(key, def)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", configErr(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// Sub returns the settings under prefix, with the prefix removed.
func (c Config) Sub(prefix string) Config {
	out := Config{}
	for k, v := range c {
		if strings.HasPrefix(k, prefix) {
			out[strings.TrimPrefix(k, prefix)] = v
		}
	}
	return out
}

// Clone returns a copy of c.
func (c Config) Clone() Config {
	out := make(Config, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// ParseProperties reads a Java properties file: key=value or key: value
// lines, # and ! comments, backslash line continuations.
func ParseProperties(r io.Reader) (Config, error) {
	out := Config{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var pending string
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimLeft(sc.Text(), " \t\f")
		if pending == "" && (s == "" || s[0] == '#' || s[0] == '!') {
			continue
		}
		if strings.HasSuffix(s, `\`) && !strings.HasSuffix(s, `\\`) {
			pending += strings.TrimSuffix(s, `\`)
			continue
		}
		s = pending + s
		pending = ""
		i := strings.IndexAny(s, "=:")
		if i < 0 {
			return nil, fmt.Errorf("%w: line %d: %q has no = or :", ErrConfig, line, s)
		}
		k := strings.TrimSpace(s[:i])
		v := strings.TrimSpace(s[i+1:])
		v = strings.NewReplacer(`\\`, `\`, `\:`, `:`, `\=`, `=`, `\t`, "\t", `\n`, "\n").Replace(v)
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ConnectorConfig is one connector's name and configuration.
type ConnectorConfig struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
}

// LoadConnectorConfig reads a connector configuration file: JSON as the
// REST API takes it ({"name": ..., "config": {...}}), or a flat JSON
// object, or a properties file, as connect-standalone accepts.
func LoadConnectorConfig(path string) (ConnectorConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ConnectorConfig{}, err
	}
	var cc ConnectorConfig
	if t := strings.TrimSpace(string(data)); strings.HasPrefix(t, "{") {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return cc, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
		}
		if _, ok := raw["config"]; ok {
			if err := json.Unmarshal(data, &cc); err != nil {
				return cc, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
			}
		} else {
			cc.Config = map[string]string{}
			for k, v := range raw {
				var s string
				if err := json.Unmarshal(v, &s); err != nil {
					// Accept numbers and booleans as Kafka Connect does.
					s = strings.TrimSpace(string(v))
				}
				cc.Config[k] = s
			}
		}
	} else {
		props, err := ParseProperties(strings.NewReader(string(data)))
		if err != nil {
			return cc, fmt.Errorf("%s: %w", path, err)
		}
		cc.Config = props
	}
	if cc.Name == "" {
		cc.Name = cc.Config["name"]
	}
	if cc.Name == "" {
		return cc, fmt.Errorf("%w: %s: missing connector name", ErrConfig, path)
	}
	if cc.Config == nil {
		cc.Config = map[string]string{}
	}
	cc.Config["name"] = cc.Name
	if cc.Config["connector.class"] == "" {
		return cc, fmt.Errorf("%w: %s: missing connector.class", ErrConfig, path)
	}
	return cc, nil
}
