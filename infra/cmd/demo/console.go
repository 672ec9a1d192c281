package main

import "fmt"

// printConsoleWalk says where to click to walk the same steps in the
// operator console and the customer's wizard pages; the demo opens no
// browser itself.
func printConsoleWalk(env map[string]string) {
	console, staff := env["CONSOLE_URL"], env["STAFF_USER"]
	if console == "" {
		return
	}
	fmt.Printf(`
The same steps by clicking (open these yourself; the demo opens nothing):
  Operator console   %s
    sign in with Microsoft as %s, password Passw0rd!local
  [1]     Tenants: Create a customer (domain contoso.example), then Upgrade Customer
  [2-7]   Onboarding wizard: full name, short name, OC Pro, users, Send link to IT administrator
          (admin@contoso.example), Create and send
  [8]     Customer Invitations: search the token, Email Sent true, open the AuthURL
  [9-21]  In a private window, at the AuthURL: Sign in with Microsoft as admin@contoso.example
          (password Passw0rd!local, Approve), Accept, click here to continue, Accept
  [22-24] Pending Invitations: Authentication Complete, Upgrade, Next
  [25-26] Service Details, then the SIP Connections tab
  [29]    M365 Settings: Validate Authentication
          Email settings: the Welcome mail preview and Send test mail
  Mailbox (the Welcome mail)   %s
`, console, staff, env["MAIL_URL"])
}
