package event

// AuthenticationCompleted says a customer's tenant proved its admin
// consent; TokenValidationFunction validates the tenant on it. It carries
// ids and the tenant, never a token.
type AuthenticationCompleted struct {
	Schema
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	CustomerID   string `json:"customerId"`
	UpgradeID    string `json:"upgradeId"`
	ServiceID    string `json:"serviceId"`
	TenantID     string `json:"tenantId"`
}

// Type implements Detail.
func (AuthenticationCompleted) Type() Type {
	return Type{Source: SourceConsent, DetailType: "Authentication Completed", Version: 1}
}
