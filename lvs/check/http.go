package check

import (
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/lvsconsole/lvsconsole/lvs/config"
)

// prepareHTTP checks the HTTP fields of p.spec and builds p's client.
func (p *Probe) prepareHTTP() error {
	s := &p.spec
	if err := config.CheckPath(s.Path); err != nil {
		return fieldErr("path", "%v", err)
	}
	if err := config.CheckHost(s.Host); err != nil {
		return fieldErr("host", "%v", err)
	}
	rs, err := config.ParseStatusRanges(s.Status)
	if err != nil {
		return fieldErr("status", "%v", err)
	}
	p.status = rs
	if s.BodyRegex != "" {
		re, err := config.CheckRegex(s.BodyRegex)
		if err != nil {
			return fieldErr("body_regex", "%v", err)
		}
		p.body = re
	}
	if s.Digest != "" {
		if err := config.CheckDigest(s.Digest); err != nil {
			return fieldErr("digest", "%v", err)
		}
		p.digest, _ = hex.DecodeString(s.Digest)
	}

	tlsConf := &tls.Config{InsecureSkipVerify: !s.Verify}
	if s.Host != "" {
		// SNI and the name verified are the virtual host's, not the address.
		host := s.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		tlsConf.ServerName = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	tr := &http.Transport{
		Proxy:       nil, // a check goes to the real server, never through a proxy
		DialContext: p.dialer.DialContext,
		// A health check must open a new connection each time: a kept-alive
		// one would test a connection, not the server's accepting of new ones.
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxOutput,
		TLSClientConfig:        tlsConf,
		// HTTP/1.1 only: HTTP/2 brings nothing to one request per connection.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	p.client = &http.Client{
		Transport: tr,
		// A redirect is judged by Status, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return nil
}

// runHTTP GETs Path from t with Host, and judges the status and the body.
func (p *Probe) runHTTP(a *attempt, t Target) Result {
	s := &p.spec
	scheme := "http"
	if s.Kind == HTTPS {
		scheme = "https"
	}
	// Through url.URL so that an IPv6 zone is escaped in the URL.
	u := (&url.URL{Scheme: scheme, Host: t.String()}).String() + s.Path
	req, err := http.NewRequestWithContext(a.ctx, http.MethodGet, u, nil)
	if err != nil {
		return down("request: " + err.Error())
	}
	if s.Host != "" {
		req.Host = s.Host
	}
	req.Header.Set("User-Agent", "lvsconsole-check")
	resp, err := p.client.Do(req)
	if err != nil {
		return down(a.httpReason(err))
	}
	defer resp.Body.Close()

	if !statusOK(p.status, resp.StatusCode) {
		return down("status " + strconv.Itoa(resp.StatusCode) + ", want " + s.Status)
	}
	if p.body == nil && p.digest == nil {
		return up("status " + strconv.Itoa(resp.StatusCode))
	}
	if p.digest != nil {
		// The digest is of the whole body: read it all, hashing as it
		// comes, keeping at most maxOutput of it for the regex.
		h := md5.New()
		var kept bytes.Buffer
		if _, err := io.Copy(io.MultiWriter(h, &limitWriter{&kept, maxOutput}), resp.Body); err != nil {
			return down(a.reason("read body", err))
		}
		if sum := h.Sum(nil); !bytes.Equal(sum, p.digest) {
			return down("body digest " + hex.EncodeToString(sum) + ", want " + s.Digest)
		}
		if p.body == nil {
			return up("status " + strconv.Itoa(resp.StatusCode) + ", digest matches")
		}
		if !p.body.Match(kept.Bytes()) {
			return down("body does not match " + quote([]byte(s.BodyRegex)) + ": got " + quote(kept.Bytes()))
		}
		return up("status " + strconv.Itoa(resp.StatusCode) + ", digest and body match")
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	if err != nil {
		return down(a.reason("read body", err))
	}
	if !p.body.Match(body) {
		return down("body does not match " + quote([]byte(s.BodyRegex)) + ": got " + quote(body))
	}
	return up("status " + strconv.Itoa(resp.StatusCode) + ", body matches")
}

// httpReason turns a client error into words: certificate problems say
// "certificate", the rest as for a plain connection.
func (a *attempt) httpReason(err error) string {
	var (
		ve  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		rhe tls.RecordHeaderError
	)
	switch {
	case a.parent.Err() != nil:
		return cancelled(a.parent)
	case errors.As(err, &ve):
		return "certificate: " + ve.Err.Error()
	case errors.As(err, &ua), errors.As(err, &he), errors.As(err, &ci):
		return "certificate: " + innermost(err).Error()
	case errors.As(err, &rhe):
		return "tls: the server does not speak TLS"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // drop `Get "http://...": `, the address is known
	}
	return a.reason("request", err)
}

func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func statusOK(rs []config.StatusRange, code int) bool {
	for _, r := range rs {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// limitWriter keeps the first n bytes written to it and drops the rest.
type limitWriter struct {
	b *bytes.Buffer
	n int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if room := w.n - w.b.Len(); room > 0 {
		w.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
