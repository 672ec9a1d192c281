package upgrade

import (
	"context"
	"errors"
	"strings"

	"github.com/ocpro/upgrade/internal/fault"
)

// FieldTenantID is the customer's Microsoft Entra tenant id.
const FieldTenantID = "tenantId"

// CodeInvalidTenantID is the field error code of a tenant id that is not
// a GUID.
const CodeInvalidTenantID = "invalid_tenant_id"

// IsTenantID reports whether s is a GUID as Entra writes tenant ids,
// 8-4-4-4-12 lower-case hex digits. A loop rather than a regular
// expression: compiling one at package init cost every function linking
// this package about half a millisecond of each cold start.
func IsTenantID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// ValidateTenantID checks an optional Microsoft Entra tenant id: a GUID
// such as 5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74, in any case, returned in
// lower case as tokens carry it. A domain is not a tenant id: tenants
// rename and add domains, their id never changes.
func ValidateTenantID(s string) (string, []fault.FieldError) {
	if s == "" {
		return "", nil
	}
	id := strings.ToLower(s)
	if !IsTenantID(id) {
		return s, []fault.FieldError{{Field: FieldTenantID, Code: CodeInvalidTenantID,
			Message: "Enter the tenant ID, a GUID such as 5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74 (Microsoft Entra admin center, Overview)."}}
	}
	return id, nil
}

// CustomerUpdate changes what the service knows of a customer's
// Microsoft tenant; nil fields stay as they are.
type CustomerUpdate struct {
	Domain   *string
	TenantID *string
}

// UpdateCustomer sets a customer's domain or tenant id. The tenant id may
// be set once: the same id again changes nothing, another id is a
// conflict, because a customer never moves to another tenant.
func (s *Portal) UpdateCustomer(ctx context.Context, operatorID, id string, in CustomerUpdate) (Customer, error) {
	var errs []fault.FieldError
	var domain, tenant string
	if in.Domain != nil {
		var e []fault.FieldError
		domain, e = ValidateDomain(*in.Domain)
		errs = append(errs, e...)
	}
	if in.TenantID != nil {
		var e []fault.FieldError
		tenant, e = ValidateTenantID(*in.TenantID)
		errs = append(errs, e...)
		if tenant == "" && len(e) == 0 {
			errs = append(errs, fault.FieldError{Field: FieldTenantID, Code: CodeRequired,
				Message: "A tenant ID cannot be removed once set."})
		}
	}
	if err := fault.InvalidFields(errs...); err != nil {
		return Customer{}, err
	}
	if in.TenantID != nil {
		switch err := s.store.BindTenant(ctx, operatorID, id, tenant); {
		case errors.Is(err, ErrTenantBound):
			return Customer{}, &fault.Error{Kind: fault.Conflict, Err: err, Detail: "The customer is bound to another Microsoft tenant.",
				Fields: []fault.FieldError{{Field: FieldTenantID, Code: CodeTaken,
					Message: "The customer already has another tenant ID; a customer never moves to another tenant."}}}
		case err != nil:
			return Customer{}, storeError("bind customer tenant", err, asked{})
		}
	}
	if in.Domain != nil {
		if err := s.store.SetCustomerDomain(ctx, operatorID, id, domain); err != nil {
			return Customer{}, storeError("set customer domain", err, asked{})
		}
	}
	c, err := s.store.GetCustomer(ctx, operatorID, id)
	if err != nil {
		return Customer{}, storeError("get customer", err, asked{})
	}
	return c, nil
}
