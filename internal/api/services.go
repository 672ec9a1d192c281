package api

import (
	"context"
	"net/http"
	"time"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// Finisher is what the resume, cancel and service routes need from the
// domain.
type Finisher interface {
	Resume(ctx context.Context, operatorID, upgradeID string, in upgrade.ResumeInput) (upgrade.Upgrade, error)
	Cancel(ctx context.Context, operatorID, upgradeID string) (upgrade.Upgrade, error)
	GetService(ctx context.Context, operatorID, id string) (upgrade.ServiceDetails, error)
	ListSIPConnections(ctx context.Context, operatorID, serviceID string) ([]upgrade.SIPConnection, error)
	GetCustomerOverview(ctx context.Context, operatorID, id string) (upgrade.CustomerOverview, error)
}

// WithFinisher serves resume, cancel, the service routes and the customer
// with its services (guide steps 22-26) through f; without it those routes
// answer 501 and the customer comes without services.
func WithFinisher(f Finisher) Option { return func(h *Handler) { h.finisher = f } }

func (h *Handler) resume(ctx context.Context, r request) (result, error) {
	if h.finisher == nil {
		return notWired(ctx, r)
	}
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	raw, err := body(r.APIGatewayV2HTTPRequest)
	if err != nil {
		return result{}, err
	}
	var in upgrade.ResumeInput
	if err := decodeObject(raw,
		field{name: upgrade.FieldLicenseType, required: true, into: &in.LicenseType},
		field{name: upgrade.FieldLicensedUsers, required: true, into: &in.LicensedUsers},
	); err != nil {
		return result{}, err
	}
	u, err := h.finisher.Resume(ctx, r.operatorID, id, in)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: upgradeOut(u)}, nil
}

func (h *Handler) cancel(ctx context.Context, r request) (result, error) {
	if h.finisher == nil {
		return notWired(ctx, r)
	}
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	u, err := h.finisher.Cancel(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: upgradeOut(u)}, nil
}

type sipJSON struct {
	ID        string    `json:"id"`
	ServiceID string    `json:"serviceId"`
	Name      string    `json:"name"`
	FQDN      string    `json:"fqdn"`
	Port      int       `json:"port"`
	Transport string    `json:"transport"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

func sipOut(c upgrade.SIPConnection) sipJSON {
	return sipJSON{ID: c.ID, ServiceID: c.ServiceID, Name: c.Name, FQDN: c.FQDN, Port: c.Port, Transport: c.Transport,
		Status: c.Status, CreatedAt: c.CreatedAt.UTC()}
}

type serviceDetailsJSON struct {
	ID             string    `json:"id"`
	CustomerID     string    `json:"customerId"`
	UpgradeID      string    `json:"upgradeId,omitempty"`
	FullName       string    `json:"fullName"`
	ShortName      string    `json:"shortName"`
	LicenseType    string    `json:"licenseType"`
	LicensedUsers  int       `json:"licensedUsers"`
	Status         string    `json:"status"`
	Permissions    []string  `json:"permissions"`
	SIPConnections []sipJSON `json:"sipConnections"`
	CreatedAt      time.Time `json:"createdAt"`
}

func (h *Handler) getService(ctx context.Context, r request) (result, error) {
	if h.finisher == nil {
		return notWired(ctx, r)
	}
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	s, err := h.finisher.GetService(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	out := serviceDetailsJSON{ID: s.ID, CustomerID: s.CustomerID, UpgradeID: s.UpgradeID, FullName: s.FullName,
		ShortName: s.ShortName, LicenseType: string(s.License), LicensedUsers: s.LicensedUsers, Status: string(s.Status),
		Permissions: append([]string{}, s.Permissions()...), SIPConnections: make([]sipJSON, 0, len(s.SIPConnections)),
		CreatedAt: s.CreatedAt.UTC()}
	for _, c := range s.SIPConnections {
		out.SIPConnections = append(out.SIPConnections, sipOut(c))
	}
	return result{status: http.StatusOK, body: out}, nil
}

func (h *Handler) listSIPConnections(ctx context.Context, r request) (result, error) {
	if h.finisher == nil {
		return notWired(ctx, r)
	}
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	cs, err := h.finisher.ListSIPConnections(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: listOut(upgrade.List[upgrade.SIPConnection]{Items: cs}, sipOut)}, nil
}

// customerWithServicesJSON is the customer as the Tenants page shows it
// (guide step 25): its licence, users and services.
type customerWithServicesJSON struct {
	customerJSON
	Services []serviceJSON `json:"services"`
}

func (h *Handler) getCustomerOverview(ctx context.Context, r request) (result, error) {
	if h.finisher == nil {
		return h.getCustomer(ctx, r)
	}
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	c, err := h.finisher.GetCustomerOverview(ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	out := customerWithServicesJSON{customerJSON: customerOut(c.Customer), Services: make([]serviceJSON, 0, len(c.Services))}
	for _, s := range c.Services {
		out.Services = append(out.Services, serviceJSON{ID: s.ID, FullName: s.FullName, ShortName: s.ShortName,
			LicenseType: string(s.License), LicensedUsers: s.LicensedUsers, Status: string(s.Status)})
	}
	return result{status: http.StatusOK, body: out}, nil
}
