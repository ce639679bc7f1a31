# perkgate : textes pour les clients, en français canadien (OQLF : espace insécable avant
# le deux-points et le signe de pourcentage, guillemets « »; pas d'espace avant ; ! ?).

## Cadre des pages
sandbox-banner = Bac à sable : vérification simulée, pas ID.me
powered-by = rabais offerts par perkgate
footer-promise = Nous ne demandons à ID.me que le statut qu'exige une offre, ne conservons que ce qu'exige le rabais et ne vendons jamais vos données.
footer-privacy = Politique de confidentialité
footer-terms = Conditions d'utilisation
footer-help = Aide :
language-switch = Langue

## Le magasin
storefront-heading = Des rabais pour celles et ceux qui servent et qui apprennent
reference = Référence :
try-again = Réessayer
benefit-unlocked = Débloqué :
benefit-your-discount = Votre rabais :
benefit-use-code = Utilisez ce code à la caisse :
benefit-copy-code = Copier le code
benefit-no-code = Aucun code nécessaire : le rabais est appliqué à votre compte à la caisse.
benefit-valid-until = Valide jusqu'au { $date }.
apply-at-checkout = Appliquer à la caisse
back-to-shop = Retour à la boutique
verified-with = Statut vérifié avec ID.me :
forget-verification = Oublier ma vérification
offers-heading = Offres
verify = Vérifier avec ID.me
verify-hint = Chez ID.me, vous choisissez votre communauté; l'offre correspond à ce que vous faites vérifier.
what-is-idme = Qu'est-ce qu'ID.me?
about-idme = Vous vous connectez chez ID.me et choisissez de communiquer votre statut à ce magasin; nous ne recevons rien d'autre sans votre permission.
offer-ran-out = Les codes de cette offre sont épuisés.
offer-until = jusqu'au { $date }
offer-for = Pour : { $communities }
back-to-store = Retour au magasin

## Titres des pages
title-discounts = Rabais
title-verified = Statut vérifié
title-unlocked = Rabais obtenu
title-not-verified = Statut non vérifié
title-no-benefit = Aucun rabais pour vous en ce moment
title-declined = Vérification refusée
title-failed = Échec de la vérification
title-expired = Vérification expirée

## Résultat d'une vérification
outcome-declined = Vous avez choisi de ne pas communiquer votre statut : nous n'avons rien reçu et aucun rabais n'a été débloqué. Vous pouvez faire la vérification en tout temps.
outcome-failed = Nous n'avons pas pu terminer votre vérification avec ID.me pour le moment, et rien n'a été débloqué. Veuillez réessayer dans un instant.
outcome-expired = Votre vérification a pris trop de temps et a expiré : les vérifications expirent après { $duration }. Veuillez recommencer.
outcome-passed-over = L'offre « { $offer } » ne vous est pas accessible ({ $reason }); vous avez donc obtenu la meilleure offre suivante.
outcome-not-verified = ID.me n'a pas pu confirmer votre statut : aucun rabais n'a été débloqué. Si vous croyez qu'il s'agit d'une erreur, refaites la vérification ou consultez votre statut chez ID.me.
outcome-no-offer = Votre statut est vérifié, mais ce magasin n'a aucune offre pour votre groupe en ce moment.
outcome-not-eligible = Votre statut est vérifié, mais les offres pour votre groupe sont réservées à des statuts ou à des renseignements que votre vérification ne comprend pas.
outcome-not-started = Votre statut est vérifié. L'offre pour votre groupe commence le { $date } : revenez à ce moment-là.
outcome-ended = Votre statut est vérifié, mais l'offre pour votre groupe a pris fin le { $date }.
outcome-ran-out = Votre statut est vérifié, mais les codes de cette offre sont épuisés.
outcome-limit-reached = Votre statut est vérifié et vous avez déjà utilisé cette offre. Vous pourrez en profiter de nouveau à compter du { $date }.
outcome-cap-reached = Votre statut est vérifié, mais cette offre a atteint son nombre maximal d'utilisations.
passed-over-ran-out = ses codes sont épuisés
passed-over-limit = vous l'avez déjà utilisée; de nouveau à compter du { $date }
passed-over-cap = elle a atteint son nombre maximal d'utilisations
passed-over-not-started = elle commence le { $date }
passed-over-ended = elle a pris fin le { $date }
passed-over-not-qualified = vous n'y êtes pas admissible

## Durées
duration-minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
duration-seconds = { $n ->
    [one] { $n } seconde
   *[other] { $n } secondes
}

## Rabais
discount-percent = { $percent } % de rabais
discount-percent-cap = { $percent } % de rabais, jusqu'à concurrence de { $cap }
discount-amount = { $amount } de rabais
discount-free-shipping = Livraison gratuite
discount-min-order = { $head }, à l'achat de { $min } ou plus

## Pages d'erreur
error-state-missing-title = Ce lien de connexion est incomplet
error-state-missing = La réponse d'ID.me ne contenait pas ses renseignements, ou les contenait plus d'une fois. Recommencez la vérification à partir du magasin.
error-state-unknown-title = Ce lien de connexion n'appartient pas à ce navigateur
error-state-unknown = Nous n'avons pas pu associer cette réponse d'ID.me à une vérification commencée ici. Recommencez à partir du magasin.
error-state-used-title = Ce lien de connexion a déjà été utilisé
error-state-used = Chaque vérification ne peut être effectuée qu'une seule fois. Commencez-en une nouvelle à partir du magasin.
error-state-expired-title = Cette vérification a pris trop de temps
error-state-expired = Les vérifications expirent après { $duration }. Commencez-en une nouvelle à partir du magasin.
error-csrf-title = Ce formulaire a expiré
error-csrf = Rechargez le magasin et réessayez.
error-forbidden-title = Votre rôle ne permet pas cette action
error-forbidden = Au besoin, demandez l'accès à un propriétaire de cette console.
error-not-found-title = Page introuvable
error-not-found = Il n'y a rien ici. Le magasin est à un clic.
error-method-title = Cette action n'est pas offerte ici
error-method = Retournez au magasin et réessayez.
error-too-many-title = Trop de tentatives
error-too-many = Veuillez patienter un moment, puis réessayer à partir du magasin.
error-declined-title = Vous avez choisi de ne pas communiquer votre statut
error-declined = Nous n'avons rien reçu. Vous pouvez faire la vérification en tout temps pour obtenir votre rabais.
error-idme-refused-title = ID.me n'a pas pu terminer la vérification
error-idme-refused = Rien n'a été débloqué ni communiqué. Veuillez réessayer.
error-idme-down-title = Nous n'arrivons pas à joindre ID.me pour le moment
error-idme-down = Votre vérification n'a pas abouti et rien n'a été débloqué. Veuillez réessayer dans un instant.
error-store-title = Nous éprouvons un bref problème technique
error-store = Veuillez réessayer sous peu. Rien de ce que vous avez déjà débloqué n'est perdu.
error-internal-title = Un problème est survenu de notre côté
error-internal = Veuillez réessayer. Si le problème persiste, indiquez la référence ci-dessous.
error-bad-request-title = Cette requête n'a pas pu être comprise
error-bad-request = Retournez au magasin et réessayez.
error-too-large-title = Cette requête était trop volumineuse
error-too-large = Les formulaires d'ici sont petits, et celui-ci dépassait la taille acceptée. Retournez au magasin et réessayez.
error-not-form-title = Cette requête n'était pas un formulaire
error-not-form = Cette adresse attend l'envoi d'un formulaire (application/x-www-form-urlencoded). Retournez au magasin et réessayez.

## Limites de fréquence
wait-browser = Veuillez patienter { $wait }, puis réessayer à partir du magasin.
wait-address = Beaucoup de gens sur votre réseau font une vérification en ce moment. Veuillez patienter { $wait }, puis réessayer à partir du magasin.
wait-callback = Veuillez patienter { $wait }, puis recharger cette page pour terminer votre vérification : votre réponse d'ID.me est conservée.

## Communautés
community-military = Militaires
community-student = Étudiants
community-teacher = Enseignants
community-responder = Premiers répondants
community-nurse = Infirmières et infirmiers
community-alumni = Diplômés
community-government = Employés du gouvernement
community-employee = Employés
community-hospital-employee = Employés d'hôpitaux
community-medical = Professionnels de la santé
community-military-canada = Militaires canadiens
community-responder-canada = Premiers répondants canadiens
community-student-canada = Étudiants canadiens
community-teacher-canada = Enseignants canadiens
community-nurse-canada = Infirmières et infirmiers canadiens

## Le bac à sable
sandbox-title = Bac à sable perkgate
sandbox-console = Console de test perkgate
sandbox-intro = Cette page remplace ID.me pendant le développement. Personne ne s'y connecte et rien n'y est vérifié : choisissez qui vous voulez incarner. Le magasin a demandé :
sandbox-personas = Profils pour cette demande
sandbox-others = Autres résultats
sandbox-decline = Refuser de communiquer (access_denied)
sandbox-groups-title = Console de test perkgate : choisissez une communauté
sandbox-groups-intro = Cette page remplace le sélecteur de communautés d'ID.me pendant le développement. Le magasin offre des rabais à ces communautés : choisissez celle à vérifier, puis qui vous voulez incarner.
sandbox-refused = Le bac à sable a refusé la demande
sandbox-page-used = Cette page de connexion a expiré ou a déjà été utilisée. Recommencez à partir du magasin.
sandbox-page-expired = Cette page de connexion a expiré. Recommencez à partir du magasin.
sandbox-unknown-persona = Profil inconnu.
persona-veteran = Vétéran des Forces armées
persona-service-member = Militaire en service
persona-student = Étudiant
persona-teacher = Enseignant
persona-responder = Premier répondant
persona-nurse = Infirmière
persona-unverified = Statut non vérifié (ID.me n'a pu confirmer aucun statut)
