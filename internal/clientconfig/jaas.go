package clientconfig

import (
	"errors"
	"fmt"
	"strings"
)

// jaasLogin is one login module entry of sasl.jaas.config.
type jaasLogin struct {
	module  string // e.g. org.apache.kafka.common.security.plain.PlainLoginModule
	flag    string // required, requisite, sufficient, optional
	options map[string]string
}

// parseJAAS reads the one-entry JAAS format Kafka accepts in
// sasl.jaas.config: `<LoginModuleClass> <flag> key="value" ... ;`. Values
// may be quoted (with \" and \\ escapes) or bare words. Errors give a
// position, never the text, since the text holds a password.
func parseJAAS(s string) (jaasLogin, error) {
	p := jaasParser{s: s}
	var l jaasLogin
	if l.module = p.word(); l.module == "" {
		return l, errors.New("missing login module class")
	}
	l.flag = strings.ToLower(p.word())
	switch l.flag {
	case "required", "requisite", "sufficient", "optional":
	case "":
		return l, errors.New("missing control flag after the login module (want required)")
	default:
		return l, fmt.Errorf("unknown control flag at position %d (want required, requisite, sufficient or optional)", p.last)
	}
	l.options = map[string]string{}
	for {
		p.space()
		if p.eof() {
			return l, errors.New("missing ';' at the end")
		}
		if p.s[p.i] == ';' {
			p.i++
			p.space()
			if !p.eof() {
				return l, fmt.Errorf("text after ';' at position %d: only one login module is allowed", p.i)
			}
			return l, nil
		}
		key := p.word()
		if key == "" {
			return l, fmt.Errorf("expected an option name at position %d", p.i)
		}
		p.space()
		if p.eof() || p.s[p.i] != '=' {
			// No names here: after a quoting mistake the "name" may be
			// part of a password.
			return l, fmt.Errorf("expected '=' after the option name at position %d", p.i)
		}
		p.i++
		p.space()
		val, err := p.value()
		if err != nil {
			return l, fmt.Errorf("option at position %d: %w", p.last, err)
		}
		l.options[key] = val
	}
}

type jaasParser struct {
	s       string
	i, last int
}

func (p *jaasParser) eof() bool { return p.i >= len(p.s) }

func (p *jaasParser) space() {
	for !p.eof() && strings.IndexByte(" \t\r\n\f", p.s[p.i]) >= 0 {
		p.i++
	}
}

// word reads a bare word: anything up to space, '=', ';' or a quote.
func (p *jaasParser) word() string {
	p.space()
	p.last = p.i
	start := p.i
	for !p.eof() && strings.IndexByte(" \t\r\n\f=;\"", p.s[p.i]) < 0 {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *jaasParser) value() (string, error) {
	if p.eof() {
		return "", errors.New("missing value")
	}
	if p.s[p.i] != '"' {
		w := p.word()
		if w == "" {
			return "", fmt.Errorf("missing value at position %d", p.i)
		}
		return w, nil
	}
	start := p.i
	p.i++
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		switch c {
		case '\\':
			p.i++
			if p.eof() {
				return "", fmt.Errorf("unterminated quoted value starting at position %d", start)
			}
			b.WriteByte(p.s[p.i])
		case '"':
			p.i++
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
		p.i++
	}
	return "", fmt.Errorf("unterminated quoted value starting at position %d", start)
}
