package entra

import "fmt"

// The customer tenants every emulator starts with, unless
// Config.NoCustomerTenants is set. Their ids are fixed so that tests and
// the local stack can name them.
const (
	ContosoTenantID  = "5e1d0c2b-7a49-4f38-8b6d-0c9e3f2a1b74"
	FabrikamTenantID = "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38"
	// DefaultPassword is the password of every seeded user on the sign-in
	// pages. It is local and public on purpose.
	DefaultPassword = "Passw0rd!local"
)

// Seeded users' sign-in names.
const (
	ContosoAdmin  = "admin@contoso.example"
	ContosoUser   = "user@contoso.example"
	FabrikamAdmin = "admin@fabrikam.example"
	FabrikamUser  = "user@fabrikam.example"
	// FabrikamGuest is a member of Fabrikam who is also a B2B guest in
	// Contoso, where they sign in with this address.
	FabrikamGuest = "carol@fabrikam.example"
	// ContosoCloudAppAdmin is a Cloud Application Administrator of
	// Contoso: may consent to delegated permissions for the organization,
	// not to Microsoft Graph's application permissions.
	ContosoCloudAppAdmin = "cloudadmin@contoso.example"
)

// seedCustomers adds Contoso and Fabrikam with a Global Administrator, a
// user without roles, and (in Contoso) a guest from Fabrikam. Neither
// tenant has consented to any app, and neither lets users consent.
func (e *Emulator) seedCustomers() error {
	tenants := []Tenant{
		{ID: ContosoTenantID, Domains: []string{"contoso.onmicrosoft.com", "contoso.example"}, DisplayName: "Contoso", Region: "NA"},
		{ID: FabrikamTenantID, Domains: []string{"fabrikam.onmicrosoft.com", "fabrikam.example"}, DisplayName: "Fabrikam", Region: "EU"},
	}
	for _, t := range tenants {
		if err := e.dir.addTenant(t); err != nil {
			return fmt.Errorf("seed tenant %s: %w", t.DisplayName, err)
		}
	}
	users := []User{
		{TenantID: ContosoTenantID, UserPrincipalName: ContosoAdmin, DisplayName: "Contoso Admin", Roles: []string{GlobalAdministrator}, MFA: true},
		{TenantID: ContosoTenantID, UserPrincipalName: ContosoUser, DisplayName: "Contoso User"},
		{TenantID: ContosoTenantID, UserPrincipalName: ContosoCloudAppAdmin, DisplayName: "Contoso Cloud App Admin",
			Roles: []string{CloudApplicationAdministrator}},
		{
			TenantID: ContosoTenantID, UserPrincipalName: "carol_fabrikam.example#EXT#@contoso.onmicrosoft.com",
			Mail: FabrikamGuest, DisplayName: "Carol (Fabrikam)", HomeTenantID: FabrikamTenantID,
		},
		{TenantID: FabrikamTenantID, UserPrincipalName: FabrikamAdmin, DisplayName: "Fabrikam Admin", Roles: []string{GlobalAdministrator}},
		{TenantID: FabrikamTenantID, UserPrincipalName: FabrikamUser, DisplayName: "Fabrikam User", MFA: true},
		{TenantID: FabrikamTenantID, UserPrincipalName: FabrikamGuest, Mail: FabrikamGuest, DisplayName: "Carol"},
	}
	for _, u := range users {
		u.Password = DefaultPassword
		if _, err := e.dir.addUser(u); err != nil {
			return fmt.Errorf("seed user %s: %w", u.UserPrincipalName, err)
		}
	}
	return nil
}

// AddUser adds a user to a tenant. An empty Password means DefaultPassword.
func (e *Emulator) AddUser(u User) (User, error) {
	if u.Password == "" {
		u.Password = DefaultPassword
	}
	added, err := e.dir.addUser(u)
	if err != nil {
		return User{}, fmt.Errorf("add user: %w", err)
	}
	return added, nil
}
