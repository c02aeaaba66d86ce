# The attendee's pages and emails in English, the reference language: every message here
# must exist in ar.ftl too (domain::i18n tests). Text arguments ($name, $email, ...) are
# isolated with <bdi> by the pages; numbers ($n, $id) print as they are.

## Every page
skip-to-content = Skip to content
nav-main = Main
nav-tickets = Tickets
nav-my-tickets = My tickets
nav-organizer = Organizer
nav-account = Account
nav-log-out = Log out
nav-log-in = Log in
nav-register = Register
footer = Tessera · tickets are signed QR codes checked at the gate, even offline.
back-to-tickets = Back to the tickets
back-to-my-tickets = Back to my tickets
error-title = Something went wrong
days-range = { $first } to { $last }

## Event page
demo-mode = Demo mode:
demo-mode-event = no payment is taken; tickets are real and scan at the demo gates.
passes = Passes
type-valid = Valid { $days }
type-left = { $n } left
sold-out = sold out
how-many = How many { $type }
your-details = Your details
field-name-printed = Name (printed on the tickets)
field-email-tickets = Email (we send the tickets here)
get-tickets-demo = Get tickets (demo)
continue-to-payment = Continue to payment
vendor-booths = Vendor booths
apply-for-booth = Apply for a booth
no-events = No events on sale
error-quantities = Quantities must be whole numbers.
error-choose-pass = Choose at least one pass.

## Order page
order-title = Order { $number }
order-heading = Order { $number }
demo-order = DEMO order: no payment was taken.
order-pending = Waiting for Stripe to confirm your payment:
order-pending-reload = reload this page in a moment.
order-expired = This order expired before it was paid.
order-refunded = This order was refunded.
order-upgrade-done = Thank you, { $name }! Your upgrade is done: the ticket has a new QR code, on its way to { $email }.
order-paid = Thank you, { $name }! Your tickets are below and on their way to { $email }.
order-pays-upgrade = This order pays the upgrade of ticket { $ticket }:
see-the-ticket = see the ticket
log-in-first = (log in first).
order-total = Total { $total }
all-tickets-pdf = All tickets (PDF)
order-transferred = { $n } ticket(s) of this order now belong to someone else.
keep-title = Keep your tickets in one place:
keep-create = create an account
keep-with = with { $email } (or
keep-log-in = log in
keep-after = ) to see them in your dashboard, transfer or upgrade them.

## A ticket, wherever it shows
ticket-n = Ticket { $id }
ticket-lower = ticket { $id }
ticket-title = Ticket { $id }
ticket-revision = Ticket { $id } (revision { $revision })
qr-of-ticket = QR code of ticket { $id }
qr-code = QR code
valid-days = Valid: { $days }
holder-is = Holder: { $name }
booth-code = Booth { $code }
add-apple-wallet = Add to Apple Wallet
save-google-wallet = Save to Google Wallet
apple-wallet = Apple Wallet
google-wallet = Google Wallet
download-pdf = Download PDF
status-valid = valid
status-void = void
status-pending = pending
status-paid = paid
status-cancelled = cancelled
status-expired = expired
status-refunded = refunded

## Ticket page
transfer-heading = Transfer to someone else
transfer-explain = They get a new QR code by email; this one stops working at every gate.
their-name = Their name
their-email = Their email
transfer-button = Transfer ticket
vendor-not-transferable = Vendor tickets cannot be transferred.
type-not-transferable = This ticket type cannot be transferred.
upgrade-heading = Upgrade
upgrade-to = Upgrade to
upgrade-option = { $type } — pay { $difference } more
upgrade-demo = Upgrade (demo, no payment)
upgrade-pay = Pay and upgrade
notice-upgraded = Upgraded: your new QR code is below, and on its way by email.
transferred-heading = Ticket transferred
transferred-text = { $type } now belongs to { $name } ({ $email }), who gets the new QR code by email. Your old code no longer opens the gates.

## Dashboard
confirm-to-see = Confirm your email address to see the tickets bought or received with it: we sent you a link.
send-link-again = Send the link again
no-passes-yet = You hold no passes yet.
get-tickets = Get tickets
your-booths = { $n ->
    [one] Your booth
   *[other] Your booths
}
booth-of = Booth of { $business }
order-word = order
location = Location:
booth-to-be-assigned = to be assigned by the organizers
staff-passes = Staff passes ({ $n })
no-staff-passes = No staff passes yet.
vendor-tickets = Vendor tickets
email-again = Email me my tickets again
orders = Orders
col-order = Order
col-date = Date
col-status = Status
col-total = Total
upgrade-mark = (upgrade)
details = Details
details-transfer-upgrade = Details, transfer, upgrade
category-bazaar = Bazaar vendor booth
category-food_truck = Food truck booth
category-food_booth = Food booth
notice-registered = Welcome! We sent you a link to confirm your email address.
notice-verified = Your email address is confirmed.
notice-verify-sent = A new confirmation link is on its way.
notice-resent = Your tickets are on their way by email.

## Accounts
field-name = Name
field-email = Email
field-password = Password
field-account-email = Email of your account
field-current-password = Current password
field-new-password = New password
password-hint = At least 10 characters.
password-hint-sessions = At least 10 characters. Other sessions are logged out.
forgot-link = Forgot your password?
register-heading = Create an account
register-explain = Use the email address you bought your tickets with: once you confirm it, they appear in your dashboard.
register-button = Create account
already-registered = Already registered?
forgot-heading = Reset your password
forgot-button = Send me a reset link
reset-heading = Choose a new password
reset-button = Set password
verify-title = Confirm your email
verify-heading = Confirm your email address
verify-explain = Confirm that this address is yours; your tickets bought or received with it then appear in your dashboard.
verify-button = Confirm my email
profile-heading = Your account
profile-email = Email:
profile-role = Role:
confirmed = confirmed
not-confirmed = not confirmed
profile = Profile
save = Save
change-password = Change password
role-attendee = attendee
role-vendor = vendor
role-gate_staff = gate_staff
role-organizer = organizer
notice-password-reset = Your password is changed: log in with the new one.
notice-logged-out = You are logged out.
notice-verified-log-in = Your email address is confirmed: log in to see your tickets.
notice-reset-sent = If an account has this address, a reset link is on its way. It works for one hour, once.
notice-saved = Saved.
notice-password-changed = Your password is changed.
