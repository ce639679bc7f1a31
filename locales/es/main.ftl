# perkgate: textos para los clientes, en español (tuteo, como en la mayoría de las tiendas).

## Marco de las páginas
sandbox-banner = Entorno de prueba: verificación simulada, no ID.me
powered-by = descuentos con perkgate
footer-promise = Solo le pedimos a ID.me el estado que requiere una oferta, guardamos solo lo que requiere el descuento y nunca vendemos tus datos.
footer-privacy = Política de privacidad
footer-terms = Términos y condiciones
footer-help = Ayuda:
language-switch = Idioma

## La tienda
storefront-heading = Descuentos para quienes sirven y aprenden
reference = Referencia:
try-again = Intentar de nuevo
benefit-unlocked = Desbloqueado:
benefit-your-discount = Tu descuento:
benefit-use-code = Usa este código al pagar:
benefit-copy-code = Copiar código
benefit-no-code = No necesitas código: el descuento se aplica a tu cuenta al pagar.
benefit-valid-until = Válido hasta el { $date }.
apply-at-checkout = Aplicar al pagar
back-to-shop = Volver a la tienda
verified-with = Estado verificado con ID.me:
forget-verification = Olvidar mi verificación
offers-heading = Ofertas
verify = Verificar con ID.me
verify-hint = En ID.me eliges tu comunidad; la oferta depende de lo que verifiques.
what-is-idme = ¿Qué es ID.me?
about-idme = Inicias sesión en ID.me y eliges compartir tu estado con esta tienda; no recibimos nada más que no permitas.
offer-ran-out = Los códigos de esta oferta se agotaron.
offer-until = hasta el { $date }
offer-for = Para: { $communities }
back-to-store = Volver al inicio

## Títulos de las páginas
title-discounts = Descuentos
title-verified = Estado verificado
title-unlocked = Descuento desbloqueado
title-not-verified = Estado no verificado
title-no-benefit = No hay descuento para ti por ahora
title-declined = Verificación rechazada
title-failed = La verificación falló
title-expired = La verificación expiró

## Resultado de una verificación
outcome-declined = Elegiste no compartir tu estado, así que no recibimos nada y no se desbloqueó ningún descuento. Puedes verificarte cuando quieras.
outcome-failed = No pudimos completar tu verificación con ID.me en este momento y no se desbloqueó nada. Inténtalo de nuevo en un momento.
outcome-expired = Tu verificación tardó demasiado y expiró: las verificaciones expiran después de { $duration }. Vuelve a empezar.
outcome-passed-over = «{ $offer }» no está disponible para ti ({ $reason }), así que obtuviste la siguiente mejor oferta.
outcome-not-verified = ID.me no pudo confirmar tu estado, así que no se desbloqueó ningún descuento. Si crees que es un error, vuelve a verificarte o revisa tu estado en ID.me.
outcome-no-offer = Tu estado está verificado, pero esta tienda no tiene ninguna oferta para tu grupo por ahora.
outcome-not-eligible = Tu estado está verificado, pero las ofertas para tu grupo se limitan a estados o datos que tu verificación no incluye.
outcome-not-started = Tu estado está verificado. La oferta para tu grupo empieza el { $date }: vuelve entonces.
outcome-ended = Tu estado está verificado, pero la oferta para tu grupo terminó el { $date }.
outcome-ran-out = Tu estado está verificado, pero los códigos de esta oferta se agotaron.
outcome-limit-reached = Tu estado está verificado y ya usaste esta oferta. Podrás volver a obtenerla a partir del { $date }.
outcome-cap-reached = Tu estado está verificado, pero esta oferta ya alcanzó su límite de usos.
passed-over-ran-out = sus códigos se agotaron
passed-over-limit = ya la usaste; de nuevo a partir del { $date }
passed-over-cap = ya alcanzó su límite de usos
passed-over-not-started = empieza el { $date }
passed-over-ended = terminó el { $date }
passed-over-not-qualified = no cumples los requisitos

## Duraciones
duration-minutes = { $n ->
    [one] { $n } minuto
   *[other] { $n } minutos
}
duration-seconds = { $n ->
    [one] { $n } segundo
   *[other] { $n } segundos
}

## Descuentos
discount-percent = { $percent } % de descuento
discount-percent-cap = { $percent } % de descuento, hasta { $cap }
discount-amount = { $amount } de descuento
discount-free-shipping = Envío gratis
discount-min-order = { $head }, en pedidos de { $min } o más

## Páginas de error
error-state-missing-title = Este enlace de inicio de sesión está incompleto
error-state-missing = A la respuesta de ID.me le faltaban sus datos, o los traía más de una vez. Vuelve a empezar la verificación desde la tienda.
error-state-unknown-title = Este enlace de inicio de sesión no pertenece a este navegador
error-state-unknown = No pudimos relacionar esta respuesta de ID.me con una verificación iniciada aquí. Vuelve a empezar desde la tienda.
error-state-used-title = Este enlace de inicio de sesión ya se usó
error-state-used = Cada verificación solo puede completarse una vez. Empieza una nueva desde la tienda.
error-state-expired-title = Esta verificación tardó demasiado
error-state-expired = Las verificaciones expiran después de { $duration }. Empieza una nueva desde la tienda.
error-csrf-title = Este formulario expiró
error-csrf = Vuelve a cargar la tienda e inténtalo de nuevo.
error-forbidden-title = Tu rol no permite esto
error-forbidden = Si necesitas acceso, pídeselo a un propietario de esta consola.
error-not-found-title = Página no encontrada
error-not-found = Aquí no hay nada. La tienda está a un clic.
error-method-title = Esa acción no está disponible aquí
error-method = Vuelve a la tienda e inténtalo de nuevo.
error-too-many-title = Demasiados intentos
error-too-many = Espera un momento y vuelve a intentarlo desde la tienda.
error-declined-title = Elegiste no compartir tu estado
error-declined = No recibimos nada. Puedes verificarte cuando quieras para desbloquear tu descuento.
error-idme-refused-title = ID.me no pudo completar la verificación
error-idme-refused = No se desbloqueó ni se compartió nada. Inténtalo de nuevo.
error-idme-down-title = No pudimos comunicarnos con ID.me en este momento
error-idme-down = Tu verificación no se completó y no se desbloqueó nada. Inténtalo de nuevo en un momento.
error-store-title = Tenemos un breve problema técnico
error-store = Inténtalo de nuevo en breve. No se pierde nada de lo que ya desbloqueaste.
error-internal-title = Algo salió mal de nuestro lado
error-internal = Inténtalo de nuevo. Si sigue ocurriendo, menciona la referencia de abajo.
error-bad-request-title = No se pudo entender esa solicitud
error-bad-request = Vuelve a la tienda e inténtalo de nuevo.
error-too-large-title = Esa solicitud era demasiado grande
error-too-large = Los formularios de aquí son pequeños, y este superaba el tamaño que aceptamos. Vuelve a la tienda e inténtalo de nuevo.
error-not-form-title = Esa solicitud no era un formulario
error-not-form = Esta dirección recibe el envío de un formulario (application/x-www-form-urlencoded). Vuelve a la tienda e inténtalo de nuevo.

## Límites de frecuencia
wait-browser = Espera { $wait } y vuelve a intentarlo desde la tienda.
wait-address = Muchas personas de tu red se están verificando en este momento. Espera { $wait } y vuelve a intentarlo desde la tienda.
wait-callback = Espera { $wait } y vuelve a cargar esta página para terminar tu verificación: tu respuesta de ID.me se conserva.

## Comunidades
community-military = Militares
community-student = Estudiantes
community-teacher = Docentes
community-responder = Personal de emergencias
community-nurse = Personal de enfermería
community-alumni = Exalumnos
community-government = Empleados públicos
community-employee = Empleados
community-hospital-employee = Personal hospitalario
community-medical = Profesionales de la salud
community-military-canada = Militares de Canadá
community-responder-canada = Personal de emergencias de Canadá
community-student-canada = Estudiantes de Canadá
community-teacher-canada = Docentes de Canadá
community-nurse-canada = Personal de enfermería de Canadá

## El entorno de prueba
sandbox-title = Entorno de prueba de perkgate
sandbox-console = Consola de prueba de perkgate
sandbox-intro = Esta página reemplaza a ID.me durante el desarrollo. Aquí nadie inicia sesión y no se comprueba nada: elige a quién quieres simular. La tienda pidió:
sandbox-personas = Perfiles para esta solicitud
sandbox-others = Otros resultados
sandbox-decline = No compartir (access_denied)
sandbox-groups-title = Consola de prueba de perkgate: elige una comunidad
sandbox-groups-intro = Esta página reemplaza el selector de comunidades de ID.me durante el desarrollo. La tienda ofrece descuentos a estas comunidades; elige la que quieres verificar y luego a quién quieres simular.
sandbox-refused = El entorno de prueba rechazó la solicitud
sandbox-page-used = Esta página de inicio de sesión expiró o ya se usó. Vuelve a empezar desde la tienda.
sandbox-page-expired = Esta página de inicio de sesión expiró. Vuelve a empezar desde la tienda.
sandbox-unknown-persona = Perfil desconocido.
persona-veteran = Veterano militar
persona-service-member = Militar en servicio activo
persona-student = Estudiante
persona-teacher = Docente
persona-responder = Personal de emergencias
persona-nurse = Enfermera
persona-unverified = Estado no verificado (ID.me no pudo confirmar ningún estado)
