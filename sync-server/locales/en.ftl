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
field-language = Language
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

## Emails: the order's language for its confirmation and refund notice, the account's for
## its notices. Names are isolated by the code around them (<bdi>, or FSI…PDI in text).
mail-your-event = your event
mail-hello = Hello { $name },
mail-hello-plain = Hello,
mail-demo-mark = [DEMO]
mail-demo-note = This is a DEMO order: no payment was taken.
mail-total = Total: { $total }
mail-your-tickets = Your tickets:
mail-ticket-line = { $type } (ticket { $id }), valid { $days }, holder { $holder }
mail-pdf-attached = Your tickets are attached as a PDF; show the QR code at the gate.
mail-pdf-attached-html = Your tickets are attached as a PDF. Show the QR code at the gate, on paper or on your phone.
mail-order-page = Your order page
mail-order-subject = Your tickets for { $event } - order { $number }
mail-order-thanks = thank you for your order { $number }.
mail-booth-subject = Your { $category } at { $event }: { $business } (order { $number })
mail-booth-thanks = thank you for booking a { $category } at { $event } for { $business }.
mail-booth-thanks-order = thank you for booking a { $category } at { $event } for { $business } (order { $number }).
mail-label-booth = Booth
mail-label-business = Business
mail-label-category = Category
mail-label-phone = Phone on file
mail-next = What to do next
mail-booth-keep = Keep this email: the booth pass admits you through the Vendor Gate.
mail-booth-location = Your booth location is { $code }.
mail-booth-unassigned = The organizers will assign your booth location and email you your staff passes.
mail-booth-setup = Set-up opens two hours before doors; bring your permits and your booth pass.
mail-booth-questions = Questions? Reply to this email with your order number { $number }.
mail-staff-count = { $n ->
    [one] 1 staff pass
   *[other] { $n } staff passes
}
mail-staff-subject = { $passes } for { $business }, booth { $code } at { $event }
mail-staff-intro = here are { $passes } for { $business } at booth { $code }.
mail-staff-give = Give one to each person working the booth; each admits its holder through the Vendor Gate.
mail-your-business = your business
mail-refund-subject = Refund for order { $number }
mail-refund-whole = your order { $number } has been refunded: { $amount } goes back to the card you paid with.
mail-refund-part = part of your order { $number } has been refunded: { $amount } goes back to the card you paid with.
mail-refund-void = Refunded tickets no longer admit at the gate.
mail-refund-why = If your payment arrived after your reservation had expired and the tickets were sold out meanwhile, this is why: no charge remains.
mail-verify-subject = Confirm your email address
mail-verify-open = please confirm that this address is yours: open
mail-verify-after = Once it is confirmed, the tickets bought or received with it appear in your dashboard. The link works for 7 days, once.
mail-verify-ignore = If you did not create an account, ignore this email.
mail-reset-subject = Reset your password
mail-reset-open = someone (hopefully you) asked to reset the password of the account with this address. To choose a new password, open
mail-reset-after = The link works for one hour, once. If you did not ask for it, ignore this email: your password stays as it is.
mail-out-subject = Your { $type } was transferred
mail-out-text = your ticket { $id } ({ $type }, { $event }) now belongs to { $name }. Its old QR code no longer opens the gates; the new holder received a new one.
mail-out-warn = If you did not do this, contact the organizer at once.
mail-gone-subject = About ticket { $id }
mail-gone-text = this ticket changed again before this email went out, and you no longer hold it. Log in to see the tickets you hold.
mail-upgraded-subject = Your ticket is now a { $type }
mail-upgraded-lead = your upgrade is done. Here is your new QR code: the old one no longer opens the gates.
mail-received-subject = You received a { $type } for { $event }
mail-received-lead = a ticket was transferred to you. Here is your QR code: show it at the gate.
mail-reissued-subject = A new code for your { $type } for { $event }
mail-reissued-lead = the organizer reissued your ticket. Here is its new QR code: use this one at the gate, the old one no longer opens it.
mail-type-for-event = { $type } for { $event }
mail-code-summary = { $type } for { $event }, ticket { $id }, valid { $days }.
mail-code-link = Your ticket (QR code and PDF)
mail-log-in-to-see = Log in or register with this email address to see it in your dashboard.
mail-all-subject = Your tickets
mail-all-intro = here are the { $n } ticket(s) you hold. Show a QR code at the gate.
mail-all-intro-html = Here are the tickets you hold. Show a QR code at the gate, on paper or on your phone.
mail-all-line = { $type } for { $event } (ticket { $id }), valid { $days }, holder { $holder }
mail-ticket-and-pdf = Ticket and PDF
mail-none-held = You hold no valid tickets right now.

## PDF tickets (the order's language)
pdf-title = Tickets - order { $number }
pdf-pass = Pass
pdf-vendor-booth = Vendor booth (not transferable)
pdf-order-ticket = Order { $number }   Ticket { $id }
pdf-void = VOID - this ticket is not valid
pdf-show-code = Show this code at the gate, on paper or on your phone. One entry per valid day.
pdf-demo = DEMO ORDER - no payment was taken; not valid at a real event.
pdf-comp = Complimentary ticket

## Wallet passes (the order's language)
wallet-status = STATUS
wallet-demo = DEMO
wallet-void = VOID
wallet-event = EVENT
wallet-ticket = TICKET
wallet-holder = HOLDER
wallet-valid = VALID
wallet-venue = VENUE
wallet-vendor = VENDOR
wallet-valid-header = Valid
wallet-vendor-header = Vendor
wallet-replaced = Transferred or reissued: this pass is no longer valid
wallet-order = Order
wallet-ticket-back = Ticket
wallet-ticket-revision = { $id } (revision { $revision })
wallet-event-dates = Event dates
wallet-venue-back = Venue
wallet-at-gate = At the gate
wallet-how = Show the QR code at the gate; it is checked offline. A transferred or refunded ticket's pass is voided here when your phone next updates it.
wallet-demo-note = Signed with a demo certificate, not Apple's: iPhones refuse to add it. The organizer must configure an Apple Pass Type ID certificate.
wallet-welcome = Welcome to { $event }: show this pass at the gate.
wallet-booth-unassigned = booth to be assigned

## The public vendor booth form
booth-form-title = Book a vendor booth
booth-demo = no payment is taken.
booth-category = Booth category
booth-not-on-sale = (not on sale)
field-business-name = Business name (shown at the gate)
field-booth-name = Booth name
booth-name-hint = What your booth is called, for example “Falafel King's truck”
field-contact = Contact person
field-phone = Phone
field-email-booth = Email (your booth pass and staff passes come here)
field-what-you-sell = What you sell
booth-book-demo = Book the booth (demo)
booth-after = The organizers assign your booth location and your staff passes after booking; you will find them in
booth-your-account = your account
booth-after-end = and by email.

## Error pages (English pages show each error's own detailed words; these are the words of
## each error code, which other languages show)
apperror-bad_request = The request is malformed.
apperror-invalid = Some of what you entered is not valid: check the form and try again.
apperror-unknown_ticket_type = This ticket type does not exist.
apperror-sold_out = Not enough tickets are left.
apperror-sales_paused = The organizer paused sales of this ticket type.
apperror-unauthorized = This page needs the link from your confirmation email.
apperror-forbidden = This link or account may not see this.
apperror-not_found = This page does not exist.
apperror-method_not_allowed = This cannot be done here.
apperror-payload_too_large = What you sent is too large.
apperror-unsupported_media_type = Expected JSON.
apperror-not_refundable = This order or ticket cannot be refunded in its state.
apperror-payment_unavailable = The payment provider is unavailable, please try again.
apperror-login_required = Please log in first.
apperror-bad_credentials = Wrong email or password.
apperror-role_required = Your account may not do this.
apperror-csrf = The form expired or came from another site: reload the page and try again.
apperror-bad_link = This link is invalid, used or expired: ask for a new one.
apperror-link_closed = This order link no longer opens the order.
apperror-conflict = This changed meanwhile: reload the page and try again.
apperror-not_transferable = This ticket cannot be transferred.
apperror-too_many_attempts = Too many attempts: try again in { $n } seconds, or reset your password.
apperror-too_many_holds = Too many unpaid orders from this address or network: pay or let one expire, or try again in { $n } seconds.
apperror-busy = The server is busy: try again in a moment.
apperror-storage_unavailable = Nothing was saved: the server cannot store data right now. Try again in a moment.
apperror-internal = Something broke on our side.

# A vendor ticket's booth, after its business name (PDF, emails, wallet passes).
vendor-booth = Booth { $code }
vendor-booth-unassigned = booth to be assigned
