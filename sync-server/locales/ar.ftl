# The attendee's pages and emails in Arabic: the same messages as en.ftl, key for key
# (domain::i18n tests). Digits stay ASCII, as on the tickets and at the gate (ADR 0022).

## Every page
skip-to-content = انتقل إلى المحتوى
nav-main = القائمة الرئيسية
nav-tickets = التذاكر
nav-my-tickets = تذاكري
nav-organizer = المنظّم
nav-account = الحساب
nav-log-out = تسجيل الخروج
nav-log-in = تسجيل الدخول
nav-register = إنشاء حساب
footer = تيسيرا · التذاكر رموز QR موقّعة تُفحص عند البوابة، حتى دون اتصال.
back-to-tickets = العودة إلى التذاكر
back-to-my-tickets = العودة إلى تذاكري
error-title = حدث خطأ
days-range = من { $first } إلى { $last }

## Event page
demo-mode = وضع التجربة:
demo-mode-event = لا يُدفع أي مبلغ؛ التذاكر حقيقية وتُفحص عند بوابات التجربة.
passes = التذاكر
type-valid = صالحة { $days }
type-left = { $n ->
    [zero] لم يتبقَّ شيء
    [one] تبقّت تذكرة واحدة
    [two] تبقّت تذكرتان
    [few] تبقّت { $n } تذاكر
   *[other] تبقّت { $n } تذكرة
}
sold-out = نفدت
how-many = كم تذكرة من { $type }
your-details = بياناتك
field-name-printed = الاسم (يُطبع على التذاكر)
field-email-tickets = البريد الإلكتروني (نرسل التذاكر إليه)
get-tickets-demo = احصل على التذاكر (تجربة)
continue-to-payment = تابع إلى الدفع
vendor-booths = أجنحة الباعة
apply-for-booth = اطلب جناحًا
no-events = لا توجد فعاليات معروضة للبيع
error-quantities = يجب أن تكون الكميات أعدادًا صحيحة.
error-choose-pass = اختر تذكرة واحدة على الأقل.

## Order page
order-title = الطلب { $number }
order-heading = الطلب { $number }
demo-order = طلب تجريبي: لم يُدفع أي مبلغ.
order-pending = ننتظر تأكيد Stripe لدفعتك:
order-pending-reload = أعد تحميل هذه الصفحة بعد لحظات.
order-expired = انتهت مهلة هذا الطلب قبل دفعه.
order-refunded = استُرد مبلغ هذا الطلب.
order-upgrade-done = شكرًا لك يا { $name }! تمّت الترقية: للتذكرة رمز QR جديد في طريقه إلى { $email }.
order-paid = شكرًا لك يا { $name }! تذاكرك أدناه وهي في طريقها إلى { $email }.
order-pays-upgrade = هذا الطلب يدفع ترقية التذكرة { $ticket }:
see-the-ticket = اعرض التذكرة
log-in-first = (سجّل الدخول أولًا).
order-total = المجموع { $total }
all-tickets-pdf = كل التذاكر (PDF)
order-transferred = { $n ->
    [one] تذكرة واحدة من هذا الطلب أصبحت ملك شخص آخر.
    [two] تذكرتان من هذا الطلب أصبحتا ملك شخص آخر.
   *[other] { $n } من تذاكر هذا الطلب أصبحت ملك شخص آخر.
}
keep-title = احتفظ بتذاكرك في مكان واحد:
keep-create = أنشئ حسابًا
keep-with = بالعنوان { $email } (أو
keep-log-in = سجّل الدخول
keep-after = ) لتراها في لوحتك وتنقلها أو ترقّيها.

## A ticket, wherever it shows
ticket-n = التذكرة { $id }
ticket-lower = التذكرة { $id }
ticket-title = التذكرة { $id }
ticket-revision = التذكرة { $id } (الإصدار { $revision })
qr-of-ticket = رمز QR للتذكرة { $id }
qr-code = رمز QR
valid-days = صالحة: { $days }
holder-is = حاملها: { $name }
booth-code = الجناح { $code }
add-apple-wallet = أضف إلى Apple Wallet
save-google-wallet = احفظ في Google Wallet
apple-wallet = Apple Wallet
google-wallet = Google Wallet
download-pdf = نزّل ملف PDF
status-valid = صالحة
status-void = ملغاة
status-pending = بانتظار الدفع
status-paid = مدفوع
status-cancelled = ملغى
status-expired = منتهي المهلة
status-refunded = مسترد

## Ticket page
transfer-heading = انقلها إلى شخص آخر
transfer-explain = يصله رمز QR جديد بالبريد؛ ويتوقف هذا الرمز عن العمل عند كل البوابات.
their-name = اسمه
their-email = بريده الإلكتروني
transfer-button = انقل التذكرة
vendor-not-transferable = تذاكر الباعة لا تُنقل.
type-not-transferable = هذا النوع من التذاكر لا يُنقل.
upgrade-heading = الترقية
upgrade-to = رقِّ إلى
upgrade-option = { $type } — ادفع { $difference } إضافية
upgrade-demo = رقِّ (تجربة، دون دفع)
upgrade-pay = ادفع ورقِّ
notice-upgraded = تمّت الترقية: رمز QR الجديد أدناه، وهو في طريقه إليك بالبريد.
transferred-heading = نُقلت التذكرة
transferred-text = أصبحت { $type } ملك { $name } ({ $email })، ويصله رمز QR الجديد بالبريد. رمزك القديم لم يعد يفتح البوابات.

## Dashboard
confirm-to-see = أكّد عنوان بريدك لترى التذاكر التي اشتريتها أو تلقيتها به: أرسلنا إليك رابطًا.
send-link-again = أرسل الرابط مرة أخرى
no-passes-yet = لا تحمل أي تذكرة بعد.
get-tickets = احصل على التذاكر
your-booths = { $n ->
    [one] جناحك
   *[other] أجنحتك
}
booth-of = جناح { $business }
order-word = الطلب
location = الموقع:
booth-to-be-assigned = يحدّده المنظّمون لاحقًا
staff-passes = تصاريح الطاقم ({ $n })
no-staff-passes = لا توجد تصاريح طاقم بعد.
vendor-tickets = تذاكر الباعة
email-again = أرسل إليّ تذاكري بالبريد مرة أخرى
orders = الطلبات
col-order = الطلب
col-date = التاريخ
col-status = الحالة
col-total = المجموع
upgrade-mark = (ترقية)
details = التفاصيل
details-transfer-upgrade = التفاصيل، النقل، الترقية
category-bazaar = جناح بازار
category-food_truck = جناح عربة طعام
category-food_booth = جناح طعام
notice-registered = أهلًا بك! أرسلنا إليك رابطًا لتأكيد عنوان بريدك.
notice-verified = تأكّد عنوان بريدك.
notice-verify-sent = رابط تأكيد جديد في طريقه إليك.
notice-resent = تذاكرك في طريقها إليك بالبريد.

## Accounts
field-name = الاسم
field-email = البريد الإلكتروني
field-password = كلمة المرور
field-account-email = البريد الإلكتروني لحسابك
field-current-password = كلمة المرور الحالية
field-new-password = كلمة المرور الجديدة
password-hint = 10 أحرف على الأقل.
password-hint-sessions = 10 أحرف على الأقل. تُغلق جلساتك الأخرى.
forgot-link = نسيت كلمة المرور؟
register-heading = أنشئ حسابًا
register-explain = استخدم عنوان البريد الذي اشتريت به تذاكرك: بعد تأكيده تظهر في لوحتك.
register-button = أنشئ الحساب
already-registered = لديك حساب؟
forgot-heading = أعد تعيين كلمة المرور
forgot-button = أرسل إليّ رابط إعادة التعيين
reset-heading = اختر كلمة مرور جديدة
reset-button = احفظ كلمة المرور
verify-title = أكّد بريدك
verify-heading = أكّد عنوان بريدك
verify-explain = أكّد أن هذا العنوان لك؛ فتظهر في لوحتك التذاكر التي اشتريتها أو تلقيتها به.
verify-button = أكّد بريدي
profile-heading = حسابك
profile-email = البريد الإلكتروني:
profile-role = الدور:
confirmed = مؤكَّد
not-confirmed = غير مؤكَّد
profile = الملف الشخصي
save = احفظ
change-password = غيّر كلمة المرور
role-attendee = زائر
role-vendor = بائع
role-gate_staff = موظف بوابة
role-organizer = منظّم
notice-password-reset = تغيّرت كلمة مرورك: سجّل الدخول بالجديدة.
notice-logged-out = سجّلت الخروج.
notice-verified-log-in = تأكّد عنوان بريدك: سجّل الدخول لترى تذاكرك.
notice-reset-sent = إن كان لحساب هذا العنوان، فرابط إعادة التعيين في طريقه إليه. يعمل لساعة واحدة، مرة واحدة.
notice-saved = حُفظ.
notice-password-changed = تغيّرت كلمة مرورك.
