package event

// InvitationCreated asks InvitationEmailFunction for the Welcome mail of a
// new invitation. It carries ids only, never the link or the
// administrator's address: the receiver reads those from the invitation.
type InvitationCreated struct {
	Schema
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	CustomerID   string `json:"customerId"`
	UpgradeID    string `json:"upgradeId"`
	ServiceID    string `json:"serviceId"`
}

// Type implements Detail.
func (InvitationCreated) Type() Type {
	return Type{Source: SourceUpgrades, DetailType: "Invitation Created", Version: 1}
}

// InvitationMailRequested asks InvitationEmailFunction for one mail of one
// link generation: a resend, the mail of a regenerated link, a reminder,
// or a Welcome mail whose Invitation Created was lost. The portal and the
// sweep send it.
type InvitationMailRequested struct {
	Schema
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	Generation   int    `json:"generation"`
	// Mail is the mail's kind: welcome, reminder-N or resend-N.
	Mail string `json:"mail"`
}

// Type implements Detail.
func (InvitationMailRequested) Type() Type {
	return Type{Source: SourceUpgrades, DetailType: "Invitation Mail Requested", Version: 1}
}

// TestMailRequested asks InvitationEmailFunction for an operator's test
// mail of its email settings. Unlike the invitation events it carries the
// recipient: a test mail has no record to read the address from.
type TestMailRequested struct {
	Schema
	OperatorID string `json:"operatorId"`
	To         string `json:"to"`
	// RequestID is the portal request that asked for the mail; optional.
	RequestID string `json:"requestId,omitempty"`
}

// Type implements Detail.
func (TestMailRequested) Type() Type {
	return Type{Source: SourceUpgrades, DetailType: "Test Mail Requested", Version: 1}
}

// ServiceUpgraded announces a finished upgrade: ids, the tenant and the
// licence, nothing secret. No function of this stack subscribes to it; it
// is there for the operator's other systems.
type ServiceUpgraded struct {
	Schema
	OperatorID    string `json:"operatorId"`
	CustomerID    string `json:"customerId"`
	UpgradeID     string `json:"upgradeId"`
	ServiceID     string `json:"serviceId"`
	TenantID      string `json:"tenantId"`
	LicenseType   string `json:"licenseType"`
	LicensedUsers int    `json:"licensedUsers"`
}

// Type implements Detail.
func (ServiceUpgraded) Type() Type {
	return Type{Source: SourceUpgrades, DetailType: "Service Upgraded", Version: 1}
}

// InvitationExpired says the sweep expired an invitation's link. No
// function of this stack subscribes to it.
type InvitationExpired struct {
	Schema
	InvitationID string `json:"invitationId"`
	OperatorID   string `json:"operatorId"`
	CustomerID   string `json:"customerId"`
	UpgradeID    string `json:"upgradeId"`
}

// Type implements Detail.
func (InvitationExpired) Type() Type {
	return Type{Source: SourceUpgrades, DetailType: "Invitation Expired", Version: 1}
}
