package api

import (
	"context"
	"net/http"

	"github.com/ocpro/upgrade/internal/upgrade"
)

// TenantReview is staff confirming or refusing the tenant of an invitation
// that waits for it (AWAITING_CONFIRMATION).
type TenantReview interface {
	ConfirmTenant(ctx context.Context, operatorID, id string) (upgrade.Invitation, error)
	RefuseTenant(ctx context.Context, operatorID, id string) (upgrade.Invitation, error)
}

// CustomerUpdater changes what the service knows of a customer's tenant.
type CustomerUpdater interface {
	UpdateCustomer(ctx context.Context, operatorID, id string, in upgrade.CustomerUpdate) (upgrade.Customer, error)
}

// WithTenantReview serves confirm-tenant and refuse-tenant.
func WithTenantReview(r TenantReview) Option { return func(h *Handler) { h.review = r } }

// WithCustomerUpdates serves PATCH /v1/customers/{id}.
func WithCustomerUpdates(u CustomerUpdater) Option { return func(h *Handler) { h.customers = u } }

func (h *Handler) confirmTenant(ctx context.Context, r request) (result, error) {
	return h.reviewTenant(ctx, r, TenantReview.ConfirmTenant)
}

func (h *Handler) refuseTenant(ctx context.Context, r request) (result, error) {
	return h.reviewTenant(ctx, r, TenantReview.RefuseTenant)
}

func (h *Handler) reviewTenant(ctx context.Context, r request,
	act func(TenantReview, context.Context, string, string) (upgrade.Invitation, error)) (result, error) {
	if h.review == nil {
		return notWired(ctx, r)
	}
	id, err := pathID(r)
	if err != nil {
		return result{}, err
	}
	inv, err := act(h.review, ctx, r.operatorID, id)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: invitationOut(inv)}, nil
}

func (h *Handler) updateCustomer(ctx context.Context, r request) (result, error) {
	if h.customers == nil {
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
	var domain, tenant string
	var hasDomain, hasTenant bool
	if err := decodeObject(raw,
		field{name: "domain", into: &domain, set: &hasDomain},
		field{name: "tenantId", into: &tenant, set: &hasTenant},
	); err != nil {
		return result{}, err
	}
	var in upgrade.CustomerUpdate
	if hasDomain {
		in.Domain = &domain
	}
	if hasTenant {
		in.TenantID = &tenant
	}
	c, err := h.customers.UpdateCustomer(ctx, r.operatorID, id, in)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, body: customerOut(c)}, nil
}
