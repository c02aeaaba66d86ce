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
field-language = اللغة
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

## الرسائل البريدية
mail-your-event = فعاليتك
mail-hello = مرحبًا { $name }،
mail-hello-plain = مرحبًا،
mail-demo-mark = [تجربة]
mail-demo-note = هذا طلب تجريبي: لم يُدفع أي مبلغ.
mail-total = المجموع: { $total }
mail-your-tickets = تذاكرك:
mail-ticket-line = { $type } (التذكرة { $id })، صالحة { $days }، باسم { $holder }
mail-pdf-attached = تذاكرك مرفقة بملف PDF؛ أظهر رمز QR عند البوابة.
mail-pdf-attached-html = تذاكرك مرفقة بملف PDF. أظهر رمز QR عند البوابة، مطبوعًا أو على هاتفك.
mail-order-page = صفحة طلبك
mail-order-subject = تذاكرك لـ { $event } - الطلب { $number }
mail-order-thanks = شكرًا لطلبك { $number }.
mail-booth-subject = { $category } في { $event }: { $business } (الطلب { $number })
mail-booth-thanks = شكرًا لحجزك { $category } في { $event } لصالح { $business }.
mail-booth-thanks-order = شكرًا لحجزك { $category } في { $event } لصالح { $business } (الطلب { $number }).
mail-label-booth = الجناح
mail-label-business = النشاط التجاري
mail-label-category = الفئة
mail-label-phone = الهاتف المسجّل
mail-next = الخطوات التالية
mail-booth-keep = احتفظ بهذه الرسالة: تصريح الجناح يُدخلك من بوابة الباعة.
mail-booth-location = موقع جناحك هو { $code }.
mail-booth-unassigned = سيحدّد المنظّمون موقع جناحك ويرسلون إليك تصاريح الموظفين بالبريد.
mail-booth-setup = يبدأ التجهيز قبل فتح الأبواب بساعتين؛ أحضر تصاريحك وتصريح الجناح.
mail-booth-questions = لديك سؤال؟ ردّ على هذه الرسالة واذكر رقم طلبك { $number }.
mail-staff-count = { $n ->
    [one] تصريح موظف واحد
    [two] تصريحا موظفَين
    [few] { $n } تصاريح للموظفين
    [many] { $n } تصريحًا للموظفين
   *[other] { $n } تصريح للموظفين
}
mail-staff-subject = { $passes } لـ { $business }، الجناح { $code } في { $event }
mail-staff-intro = إليك { $passes } لـ { $business } في الجناح { $code }.
mail-staff-give = أعطِ كل شخص يعمل في الجناح تصريحًا؛ كل تصريح يُدخل حامله من بوابة الباعة.
mail-your-business = نشاطك التجاري
mail-refund-subject = استرداد مبلغ الطلب { $number }
mail-refund-whole = استُرد مبلغ طلبك { $number }: يعود { $amount } إلى البطاقة التي دفعت بها.
mail-refund-part = استُرد جزء من طلبك { $number }: يعود { $amount } إلى البطاقة التي دفعت بها.
mail-refund-void = التذاكر المستردّة لم تعد تُدخل من البوابة.
mail-refund-why = إذا وصلت دفعتك بعد انتهاء مهلة حجزك ونفدت التذاكر في أثناء ذلك، فهذا هو السبب: لم يبقَ عليك أي مبلغ.
mail-verify-subject = أكّد عنوان بريدك الإلكتروني
mail-verify-open = يُرجى تأكيد أن هذا العنوان لك: افتح
mail-verify-after = بعد تأكيده تظهر في لوحتك التذاكر التي اشتريتها أو تلقيتها به. يعمل الرابط مرة واحدة خلال 7 أيام.
mail-verify-ignore = إذا لم تنشئ حسابًا، فتجاهل هذه الرسالة.
mail-reset-subject = إعادة تعيين كلمة المرور
mail-reset-open = طلب أحدهم (ونرجو أنه أنت) إعادة تعيين كلمة مرور الحساب المرتبط بهذا العنوان. لاختيار كلمة مرور جديدة، افتح
mail-reset-after = يعمل الرابط مرة واحدة خلال ساعة. إذا لم تطلبه، فتجاهل هذه الرسالة: تبقى كلمة مرورك كما هي.
mail-out-subject = نُقلت تذكرتك { $type }
mail-out-text = تذكرتك { $id } ({ $type }، { $event }) أصبحت الآن باسم { $name }. رمز QR القديم لم يعد يفتح البوابات، وقد تلقّى الحامل الجديد رمزًا جديدًا.
mail-out-warn = إذا لم تفعل ذلك، فاتصل بالمنظّم فورًا.
mail-gone-subject = بخصوص التذكرة { $id }
mail-gone-text = تغيّرت هذه التذكرة مرة أخرى قبل إرسال هذه الرسالة، ولم تعد تحملها. سجّل الدخول لترى التذاكر التي تحملها.
mail-upgraded-subject = أصبحت تذكرتك { $type }
mail-upgraded-lead = تمّت الترقية. إليك رمز QR الجديد: الرمز القديم لم يعد يفتح البوابات.
mail-received-subject = تلقيت { $type } لـ { $event }
mail-received-lead = نُقلت إليك تذكرة. إليك رمز QR الخاص بها: أظهره عند البوابة.
mail-reissued-subject = رمز جديد لتذكرتك { $type } لـ { $event }
mail-reissued-lead = أعاد المنظّم إصدار تذكرتك. إليك رمز QR الجديد: استخدمه عند البوابة، فالرمز القديم لم يعد يفتحها.
mail-type-for-event = { $type } لـ { $event }
mail-code-summary = { $type } لـ { $event }، التذكرة { $id }، صالحة { $days }.
mail-code-link = تذكرتك (رمز QR وملف PDF)
mail-log-in-to-see = سجّل الدخول أو أنشئ حسابًا بعنوان البريد هذا لتراها في لوحتك.
mail-all-subject = تذاكرك
mail-all-intro = إليك التذاكر التي تحملها ({ $n }). أظهر رمز QR عند البوابة.
mail-all-intro-html = إليك التذاكر التي تحملها. أظهر رمز QR عند البوابة، مطبوعًا أو على هاتفك.
mail-all-line = { $type } لـ { $event } (التذكرة { $id })، صالحة { $days }، باسم { $holder }
mail-ticket-and-pdf = التذكرة وملف PDF
mail-none-held = لا تحمل أي تذكرة صالحة حاليًا.

## تذاكر PDF
pdf-title = التذاكر - الطلب { $number }
pdf-pass = تذكرة دخول
pdf-vendor-booth = جناح بائع (غير قابل للنقل)
pdf-order-ticket = الطلب { $number }   التذكرة { $id }
pdf-void = ملغاة - هذه التذكرة غير صالحة
pdf-show-code = أظهر هذا الرمز عند البوابة، مطبوعًا أو على هاتفك. دخول واحد في كل يوم صالح.
pdf-demo = طلب تجريبي - لم يُدفع أي مبلغ؛ غير صالح في فعالية حقيقية.
pdf-comp = تذكرة مجانية

## بطاقات المحفظة
wallet-status = الحالة
wallet-demo = تجربة
wallet-void = ملغاة
wallet-event = الفعالية
wallet-ticket = التذكرة
wallet-holder = الحامل
wallet-valid = صالحة
wallet-venue = المكان
wallet-vendor = البائع
wallet-valid-header = صالحة
wallet-vendor-header = البائع
wallet-replaced = نُقلت أو أُعيد إصدارها: هذه البطاقة لم تعد صالحة
wallet-order = الطلب
wallet-ticket-back = التذكرة
wallet-ticket-revision = { $id } (المراجعة { $revision })
wallet-event-dates = تواريخ الفعالية
wallet-venue-back = المكان
wallet-at-gate = عند البوابة
wallet-how = أظهر رمز QR عند البوابة؛ يُفحص دون اتصال. تُلغى بطاقة التذكرة المنقولة أو المستردّة هنا عندما يحدّثها هاتفك في المرة التالية.
wallet-demo-note = موقّعة بشهادة تجريبية وليست من Apple: ترفض أجهزة iPhone إضافتها. على المنظّم إعداد شهادة Apple Pass Type ID.
wallet-welcome = أهلًا بك في { $event }: أظهر هذه البطاقة عند البوابة.
wallet-booth-unassigned = الجناح قيد التحديد

## نموذج حجز جناح البائع
booth-form-title = احجز جناح بائع
booth-demo = لا يُدفع أي مبلغ.
booth-category = فئة الجناح
booth-not-on-sale = (غير معروض للبيع)
field-business-name = اسم النشاط التجاري (يظهر عند البوابة)
field-booth-name = اسم الجناح
booth-name-hint = الاسم الذي يُعرف به جناحك، مثل «عربة ملك الفلافل»
field-contact = الشخص المسؤول
field-phone = الهاتف
field-email-booth = البريد الإلكتروني (يصلك عليه تصريح الجناح وتصاريح الموظفين)
field-what-you-sell = ما الذي تبيعه
booth-book-demo = احجز الجناح (تجربة)
booth-after = يحدّد المنظّمون موقع جناحك وتصاريح موظفيك بعد الحجز؛ ستجدها في
booth-your-account = حسابك
booth-after-end = وفي بريدك الإلكتروني.

## صفحات الأخطاء
apperror-bad_request = الطلب غير سليم.
apperror-invalid = بعض ما أدخلته غير صالح: راجع النموذج وأعد المحاولة.
apperror-unknown_ticket_type = نوع التذكرة هذا غير موجود.
apperror-sold_out = لم يتبقَّ ما يكفي من التذاكر.
apperror-sales_paused = أوقف المنظّم بيع هذا النوع من التذاكر مؤقتًا.
apperror-unauthorized = تحتاج هذه الصفحة إلى الرابط الموجود في رسالة التأكيد.
apperror-forbidden = لا يحق لهذا الرابط أو الحساب الاطلاع على هذا.
apperror-not_found = هذه الصفحة غير موجودة.
apperror-method_not_allowed = لا يمكن القيام بهذا هنا.
apperror-payload_too_large = ما أرسلته كبير جدًا.
apperror-unsupported_media_type = يُتوقَّع محتوى بصيغة جيسون.
apperror-not_refundable = لا يمكن استرداد هذا الطلب أو هذه التذكرة في حالتها الحالية.
apperror-payment_unavailable = مزوّد الدفع غير متاح، يُرجى المحاولة مرة أخرى.
apperror-login_required = يُرجى تسجيل الدخول أولًا.
apperror-bad_credentials = البريد الإلكتروني أو كلمة المرور غير صحيحة.
apperror-role_required = لا يحق لحسابك القيام بذلك.
apperror-csrf = انتهت صلاحية النموذج أو جاء من موقع آخر: أعد تحميل الصفحة وحاول مرة أخرى.
apperror-bad_link = هذا الرابط غير صالح أو مستخدم أو منتهي الصلاحية: اطلب رابطًا جديدًا.
apperror-link_closed = لم يعد رابط الطلب هذا يفتح الطلب.
apperror-conflict = تغيّر هذا في أثناء ذلك: أعد تحميل الصفحة وحاول مرة أخرى.
apperror-not_transferable = لا يمكن نقل هذه التذكرة.
apperror-too_many_attempts = محاولات كثيرة جدًا: حاول مرة أخرى بعد { $n ->
    [one] ثانية واحدة
    [two] ثانيتين
    [few] { $n } ثوانٍ
   *[other] { $n } ثانية
}، أو أعد تعيين كلمة المرور.
apperror-too_many_holds = طلبات غير مدفوعة كثيرة من هذا العنوان أو الشبكة: ادفع أحدها أو انتظر انتهاء مهلته، أو حاول مرة أخرى بعد { $n ->
    [one] ثانية واحدة
    [two] ثانيتين
    [few] { $n } ثوانٍ
   *[other] { $n } ثانية
}.
apperror-busy = الخادم مشغول: حاول مرة أخرى بعد لحظات.
apperror-storage_unavailable = لم يُحفظ شيء: لا يستطيع الخادم تخزين البيانات الآن. حاول مرة أخرى بعد لحظات.
apperror-internal = حدث خلل من جهتنا.

# A vendor ticket's booth, after its business name (PDF, emails, wallet passes).
vendor-booth = الجناح { $code }
vendor-booth-unassigned = الجناح قيد التحديد
