package ipvs

import (
	"context"
	"fmt"
)

// Services lists the virtual services (a GET_SERVICE dump). The order is
// the kernel's hash order: sort if it matters.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	r := request{op: opServices, cmd: cmdGetService, dump: true}
	msgs, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	out := make([]Service, 0, len(msgs))
	for i, m := range msgs {
		s, err := decodeService(m)
		if err != nil {
			return nil, r.fail(fmt.Errorf("decode service %d: %w", i, err))
		}
		out = append(out, s)
	}
	return out, nil
}

// Service reads one service. A missing one is ErrNotFound (ESRCH).
func (c *Client) Service(ctx context.Context, k ServiceKey) (Service, error) {
	r := request{op: opService, cmd: cmdGetService, get: true, service: &k,
		encode: serviceKeyAttr(k)}
	msgs, err := c.do(ctx, r)
	if err != nil {
		return Service{}, err
	}
	s, err := decodeService(msgs[0])
	if err != nil {
		return Service{}, r.fail(fmt.Errorf("decode: %w", err))
	}
	return s, nil
}

// NewService adds a service. One that exists already is ErrExists.
// Stats are ignored; a zero Netmask is the whole address (see
// Service.Netmask).
func (c *Client) NewService(ctx context.Context, s Service) error {
	_, err := c.do(ctx, serviceRequest(opNewService, cmdNewService, &s))
	return err
}

// UpdateService edits a service in place (SET_SERVICE): scheduler, flags,
// persistence timeout and netmask, persistence engine. Destinations and
// connections stay. An empty PEName removes the engine.
func (c *Client) UpdateService(ctx context.Context, s Service) error {
	_, err := c.do(ctx, serviceRequest(opSetService, cmdSetService, &s))
	return err
}

// DeleteService deletes a service and its destinations.
func (c *Client) DeleteService(ctx context.Context, k ServiceKey) error {
	_, err := c.do(ctx, deleteServiceRequest(k))
	return err
}

// serviceRequest is NEW_SERVICE or SET_SERVICE of s.
func serviceRequest(op string, cmd uint8, s *Service) request {
	return request{op: op, cmd: cmd, service: &s.ServiceKey, encode: serviceAttr(s)}
}

func deleteServiceRequest(k ServiceKey) request {
	return request{op: opDelService, cmd: cmdDelService, service: &k, encode: serviceKeyAttr(k)}
}

// serviceKeyAttr encodes the nested SERVICE attribute identifying k.
func serviceKeyAttr(k ServiceKey) func(*attrBuf) error {
	return func(ae *attrBuf) error {
		return ae.nested(cmdAttrService, func(nae *attrBuf) error { return encodeServiceKey(nae, k) })
	}
}

// serviceAttr encodes the nested SERVICE attribute describing s in full.
func serviceAttr(s *Service) func(*attrBuf) error {
	return func(ae *attrBuf) error {
		return ae.nested(cmdAttrService, func(nae *attrBuf) error { return encodeService(nae, s) })
	}
}
