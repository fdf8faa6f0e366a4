import type { Lang } from './sensitive-corpus-values.ts';

/** Phrases of the corpus in each language, written for it (not machine-translated templates of one another). */
type Bank = Record<Lang, readonly string[]>;

export const GREETING: Bank = {
  en: ['Hi team,', 'Hello,', 'Hey,', 'Good morning,', 'Hi all,', 'Dear support,'],
  de: ['Hallo zusammen,', 'Guten Tag,', 'Hi,', 'Liebes Support-Team,', 'Moin,', 'Sehr geehrte Damen und Herren,'],
  fr: ['Bonjour,', "Salut l'équipe,", 'Madame, Monsieur,', 'Bonsoir,', 'Chère équipe support,'],
  es: ['Hola,', 'Buenos días,', 'Hola equipo,', 'Estimados:', 'Buenas tardes,'],
  pt: ['Olá,', 'Bom dia,', 'Oi pessoal,', 'Prezados,', 'Boa tarde,'],
  it: ['Ciao,', 'Buongiorno,', 'Gentili colleghi,', 'Salve,', 'Buonasera,'],
};

export const CLOSING: Bank = {
  en: ['Thanks,', 'Best regards,', 'Cheers,', 'Kind regards,', 'Many thanks in advance,'],
  de: ['Viele Grüße', 'Beste Grüße,', 'Danke und Gruß', 'Mit freundlichen Grüßen', 'LG'],
  fr: ['Merci,', 'Cordialement,', 'Bien à vous,', 'Bonne journée,', 'Merci d’avance,'],
  es: ['Gracias,', 'Un saludo,', 'Saludos cordiales,', 'Muchas gracias,', 'Atentamente,'],
  pt: ['Obrigado,', 'Abraços,', 'Atenciosamente,', 'Obrigada desde já,', 'Cumprimentos,'],
  it: ['Grazie,', 'Cordiali saluti,', 'A presto,', 'Un saluto,', 'Grazie mille,'],
};

/** Why a customer writes, with personal details to follow. */
export const ISSUE: Bank = {
  en: [
    'I was charged twice for my subscription this month and would like a refund.',
    'I moved house and need to update the details on my account.',
    'My last invoice went to the wrong address, please correct it.',
    'Could you switch my payment method before the next billing run?',
    'I never received the parcel and the tracking page has not changed in a week.',
    'Please close my account; my details are below so you can find it.',
    'The direct debit failed and I got a reminder fee, which seems unfair.',
  ],
  de: [
    'mir wurde das Abo diesen Monat doppelt abgebucht, bitte erstatten Sie den Betrag.',
    'ich bin umgezogen und möchte meine Daten im Kundenkonto aktualisieren.',
    'die letzte Rechnung ging an die falsche Adresse.',
    'bitte stellen Sie meine Zahlungsart vor der nächsten Abrechnung um.',
    'das Paket ist nie angekommen und die Sendungsverfolgung steht seit einer Woche still.',
    'die Lastschrift ist geplatzt und jetzt soll ich eine Mahngebühr zahlen.',
  ],
  fr: [
    "j'ai été prélevé deux fois ce mois-ci, merci de me rembourser.",
    'je viens de déménager et je dois mettre à jour mon dossier.',
    'ma dernière facture est partie à la mauvaise adresse.',
    'pourriez-vous changer mon moyen de paiement avant la prochaine échéance ?',
    "le colis n'est jamais arrivé et le suivi n'a pas bougé depuis une semaine.",
    'le prélèvement a été rejeté et on me réclame des frais, ce qui me paraît injuste.',
  ],
  es: [
    'me habéis cobrado dos veces la suscripción este mes y quiero el reembolso.',
    'me he mudado y necesito actualizar los datos de mi cuenta.',
    'la última factura llegó a una dirección equivocada.',
    '¿podéis cambiar mi forma de pago antes del próximo cargo?',
    'el paquete nunca llegó y el seguimiento no se mueve desde hace una semana.',
    'la domiciliación falló y ahora me cobran una comisión de devolución.',
  ],
  pt: [
    'fui cobrado duas vezes pela assinatura este mês e gostaria do reembolso.',
    'mudei de casa e preciso atualizar os dados da minha conta.',
    'a última fatura foi enviada para o endereço errado.',
    'podem alterar a minha forma de pagamento antes da próxima cobrança?',
    'a encomenda nunca chegou e o rastreio está parado há uma semana.',
    'o débito direto falhou e agora cobraram uma taxa de atraso.',
  ],
  it: [
    'mi avete addebitato due volte l’abbonamento questo mese, vorrei il rimborso.',
    'ho cambiato casa e devo aggiornare i dati del mio account.',
    "l'ultima fattura è arrivata all'indirizzo sbagliato.",
    'potete cambiare il metodo di pagamento prima del prossimo addebito?',
    'il pacco non è mai arrivato e il tracciamento è fermo da una settimana.',
    'l’addebito diretto è fallito e ora mi chiedete una commissione.',
  ],
};

/** Labels of personal fields, by language. */
export const LABEL: Record<Lang, Record<string, string>> = {
  en: {
    name: 'Name',
    email: 'Email',
    phone: 'Phone',
    iban: 'IBAN',
    card: 'Card',
    id: 'ID number',
    dob: 'Date of birth',
    address: 'Address',
    customer: 'Customer no.',
  },
  de: {
    name: 'Name',
    email: 'E-Mail',
    phone: 'Telefon',
    iban: 'IBAN',
    card: 'Kreditkarte',
    id: 'Ausweisnummer',
    dob: 'Geburtsdatum',
    address: 'Anschrift',
    customer: 'Kundennummer',
  },
  fr: {
    name: 'Nom',
    email: 'Courriel',
    phone: 'Téléphone',
    iban: 'IBAN',
    card: 'Carte',
    id: "Numéro d'identité",
    dob: 'Date de naissance',
    address: 'Adresse',
    customer: 'N° client',
  },
  es: {
    name: 'Nombre',
    email: 'Correo',
    phone: 'Teléfono',
    iban: 'IBAN',
    card: 'Tarjeta',
    id: 'Documento',
    dob: 'Fecha de nacimiento',
    address: 'Dirección',
    customer: 'N.º de cliente',
  },
  pt: {
    name: 'Nome',
    email: 'E-mail',
    phone: 'Telefone',
    iban: 'IBAN',
    card: 'Cartão',
    id: 'Documento',
    dob: 'Data de nascimento',
    address: 'Morada',
    customer: 'N.º de cliente',
  },
  it: {
    name: 'Nome',
    email: 'Email',
    phone: 'Telefono',
    iban: 'IBAN',
    card: 'Carta',
    id: 'Documento',
    dob: 'Data di nascita',
    address: 'Indirizzo',
    customer: 'Codice cliente',
  },
};

export const STREET: Bank = {
  en: ['14 Larkspur Lane, Leeds', '7 Quayside Court, Bristol', '221 Maple Avenue, Portland'],
  de: ['Lindenstraße 12, 10969 Berlin', 'Am Mühlbach 3, 79098 Freiburg', 'Hafenweg 27, 20457 Hamburg'],
  fr: [
    '12 rue des Tilleuls, 69003 Lyon',
    '5 allée des Peupliers, 33000 Bordeaux',
    '48 boulevard Voltaire, 75011 Paris',
  ],
  es: ['Calle del Olmo 14, 28012 Madrid', 'Avinguda de la Llum 5, 08014 Barcelona', 'Calle Larga 22, 41004 Sevilla'],
  pt: ['Rua das Flores 18, 4050-262 Porto', 'Avenida Paulista 1000, São Paulo', 'Travessa do Carmo 4, 1200-095 Lisboa'],
  it: ['Via dei Mille 21, 20121 Milano', 'Corso Vittorio 8, 10121 Torino', 'Via Roma 140, 90133 Palermo'],
};

/** What a user asks an assistant when pasting something technical. */
export const ASK_DEBUG: Bank = {
  en: [
    'Why does this fail on startup?',
    'Can you tell me what is wrong with this config?',
    'This worked yesterday, what changed?',
    'Please convert this to YAML.',
    'Help me make this work in the staging cluster:',
    'Explain this error to me.',
  ],
  de: [
    'Warum startet das nicht?',
    'Was stimmt mit dieser Konfiguration nicht?',
    'Gestern lief das noch, was ist jetzt kaputt?',
    'Bitte wandle das in YAML um.',
    'Kannst du mir den Fehler erklären?',
  ],
  fr: [
    'Pourquoi ça plante au démarrage ?',
    'Tu peux me dire ce qui cloche dans cette config ?',
    'Ça marchait hier, qu’est-ce qui a changé ?',
    'Convertis ceci en YAML stp.',
    'Explique-moi cette erreur.',
  ],
  es: [
    '¿Por qué falla al arrancar?',
    '¿Qué está mal en esta configuración?',
    'Ayer funcionaba, ¿qué ha cambiado?',
    'Pásame esto a YAML, por favor.',
    'Explícame este error.',
  ],
  pt: [
    'Por que isto falha ao iniciar?',
    'O que está errado nesta configuração?',
    'Ontem funcionava, o que mudou?',
    'Converte isto para YAML, por favor.',
    'Explica-me este erro.',
  ],
  it: [
    "Perché fallisce all'avvio?",
    'Cosa non va in questa configurazione?',
    'Ieri funzionava, cosa è cambiato?',
    'Convertilo in YAML per favore.',
    'Spiegami questo errore.',
  ],
};

/** A model's lead-in to a record it returns. */
export const COMPLETION_LEAD: Bank = {
  en: [
    'Here is the customer record you asked for:',
    'I found the account. The details on file are:',
    'Sure — from the CRM:',
    'The contact details are as follows.',
  ],
  de: [
    'Hier ist der gewünschte Kundendatensatz:',
    'Ich habe das Konto gefunden. Hinterlegt sind:',
    'Klar, aus dem CRM:',
    'Die Kontaktdaten lauten:',
  ],
  fr: [
    'Voici la fiche client demandée :',
    "J'ai trouvé le compte. Les informations enregistrées sont :",
    'Bien sûr, depuis le CRM :',
    'Les coordonnées sont les suivantes.',
  ],
  es: [
    'Aquí tienes la ficha del cliente:',
    'He encontrado la cuenta. Los datos registrados son:',
    'Claro, desde el CRM:',
    'Los datos de contacto son:',
  ],
  pt: [
    'Aqui está o registo do cliente pedido:',
    'Encontrei a conta. Os dados registados são:',
    'Claro, do CRM:',
    'Os dados de contacto são:',
  ],
  it: [
    'Ecco la scheda cliente richiesta:',
    "Ho trovato l'account. I dati registrati sono:",
    'Certo, dal CRM:',
    'I recapiti sono i seguenti.',
  ],
};

export const COMPLETION_SECRET_LEAD: Bank = {
  en: [
    'The config you shared sets the key directly:',
    'Your current settings are:',
    'I see the credentials in the file:',
    'Looking at the repository, the token is hard-coded here:',
  ],
  de: [
    'In der geteilten Konfiguration steht der Schlüssel direkt:',
    'Deine aktuellen Einstellungen sind:',
    'Die Zugangsdaten stehen in der Datei:',
  ],
  fr: [
    'La configuration partagée définit la clé en dur :',
    'Tes paramètres actuels sont :',
    'Je vois les identifiants dans le fichier :',
  ],
  es: [
    'La configuración que compartiste fija la clave directamente:',
    'Tus ajustes actuales son:',
    'Veo las credenciales en el archivo:',
  ],
  pt: [
    'A configuração partilhada define a chave diretamente:',
    'As tuas definições atuais são:',
    'Vejo as credenciais no ficheiro:',
  ],
  it: [
    'La configurazione condivisa imposta la chiave direttamente:',
    'Le tue impostazioni attuali sono:',
    'Vedo le credenziali nel file:',
  ],
};

export const COMPLETION_SECRET_TAIL: Bank = {
  en: [
    'You should rotate it, since it has now been shared.',
    'Move it to a secret manager before committing.',
    'With that in place the client authenticates.',
  ],
  de: [
    'Der Schlüssel sollte jetzt rotiert werden.',
    'Leg das besser in einen Secret-Store.',
    'Damit authentifiziert sich der Client.',
  ],
  fr: [
    'Pense à la révoquer, elle a été partagée.',
    'Mets-la plutôt dans un coffre à secrets.',
    'Avec ça le client s’authentifie.',
  ],
  es: [
    'Deberías rotarla, ya se ha compartido.',
    'Guárdala en un gestor de secretos.',
    'Con eso el cliente se autentica.',
  ],
  pt: ['Convém revogá-la, já foi partilhada.', 'Guarda-a num cofre de segredos.', 'Com isso o cliente autentica.'],
  it: ['Conviene ruotarla, ormai è stata condivisa.', 'Spostala in un secret manager.', 'Così il client si autentica.'],
};

/** Log messages, by language (apps log in their team's language more often than one would think). */
export const LOG_MSG: Bank = {
  en: [
    'request completed',
    'cache miss',
    'retrying upstream call',
    'user signed in',
    'job finished',
    'connection pool exhausted',
    'slow query',
  ],
  de: [
    'Anfrage abgeschlossen',
    'Cache-Fehltreffer',
    'Wiederhole Aufruf',
    'Benutzer angemeldet',
    'Job beendet',
    'Verbindungspool erschöpft',
  ],
  fr: [
    'requête terminée',
    'défaut de cache',
    "nouvelle tentative d'appel",
    'utilisateur connecté',
    'tâche terminée',
    'pool de connexions saturé',
  ],
  es: [
    'petición completada',
    'fallo de caché',
    'reintentando llamada',
    'usuario conectado',
    'tarea terminada',
    'pool de conexiones agotado',
  ],
  pt: [
    'pedido concluído',
    'falha de cache',
    'a repetir chamada',
    'utilizador autenticado',
    'tarefa concluída',
    'pool de ligações esgotado',
  ],
  it: [
    'richiesta completata',
    'cache miss',
    'nuovo tentativo di chiamata',
    'utente autenticato',
    'job terminato',
    'pool di connessioni esaurito',
  ],
};

/** Ordinary questions and requests: no identifiers at all. */
export const BENIGN_ASK: Bank = {
  en: [
    'Can you summarise the attached quarterly report in five bullet points?',
    'What is the difference between a mutex and a semaphore?',
    'Plan a three-day trip to Lisbon for two people on a moderate budget.',
    'Rewrite this paragraph so it sounds less formal.',
    'How many grams of flour are in a cup?',
    'Draft a polite reminder to the team about Friday’s deadline.',
    'Why is the sky blue? Explain it to a ten-year-old.',
    'Which sorting algorithm is stable and runs in O(n log n)?',
    'Suggest names for a bakery that also sells coffee.',
    'Translate “the meeting moved to Thursday” into German.',
  ],
  de: [
    'Kannst du den Quartalsbericht in fünf Stichpunkten zusammenfassen?',
    'Was ist der Unterschied zwischen einem Mutex und einer Semaphore?',
    'Plane einen dreitägigen Ausflug nach Dresden für zwei Personen.',
    'Formuliere diesen Absatz etwas lockerer.',
    'Wie lange muss ein Sauerteigbrot gehen?',
    'Schreib eine freundliche Erinnerung an die Abgabe am Freitag.',
    'Welche Vor- und Nachteile hat eine Wärmepumpe im Altbau?',
    'Erkläre mir Rekursion mit einem einfachen Beispiel.',
  ],
  fr: [
    'Peux-tu résumer le rapport trimestriel en cinq points ?',
    'Quelle est la différence entre un mutex et un sémaphore ?',
    'Organise un week-end de trois jours à Marseille pour deux personnes.',
    'Reformule ce paragraphe sur un ton moins formel.',
    'Combien de temps faut-il pour cuire un gigot de sept heures ?',
    'Rédige un rappel poli pour la date limite de vendredi.',
    'Explique-moi la récursivité avec un exemple simple.',
  ],
  es: [
    '¿Puedes resumir el informe trimestral en cinco puntos?',
    '¿Qué diferencia hay entre un mutex y un semáforo?',
    'Planifica un viaje de tres días a Granada para dos personas.',
    'Reescribe este párrafo con un tono más cercano.',
    '¿Cuánto tiempo hay que dejar reposar la masa de pizza?',
    'Redacta un recordatorio amable sobre la entrega del viernes.',
    'Explícame la recursividad con un ejemplo sencillo.',
  ],
  pt: [
    'Podes resumir o relatório trimestral em cinco tópicos?',
    'Qual é a diferença entre um mutex e um semáforo?',
    'Planeia uma viagem de três dias ao Porto para duas pessoas.',
    'Reescreve este parágrafo num tom menos formal.',
    'Quanto tempo leva a cozer um pão de fermentação natural?',
    'Escreve um lembrete simpático sobre o prazo de sexta-feira.',
    'Explica recursão com um exemplo simples.',
  ],
  it: [
    'Puoi riassumere il report trimestrale in cinque punti?',
    'Qual è la differenza tra un mutex e un semaforo?',
    'Organizza un viaggio di tre giorni a Napoli per due persone.',
    'Riscrivi questo paragrafo con un tono meno formale.',
    'Quanto deve lievitare un impasto per la pizza?',
    'Scrivi un promemoria gentile per la scadenza di venerdì.',
    'Spiegami la ricorsione con un esempio semplice.',
  ],
};

/** Ordinary answers and documents. */
export const BENIGN_PROSE: Bank = {
  en: [
    'The quarterly numbers were broadly flat: revenue grew 2.4% while operating costs rose 3.1%, mostly from cloud spend.',
    'A mutex guards a critical section so only one thread enters at a time; a semaphore counts permits and may admit several.',
    'Day one: the old town and the castle; day two: the riverside and a tram ride; day three: a museum and an early dinner.',
    'Preheat the oven to 220 °C, bake for 25 minutes, then lower to 190 °C for another 20.',
    'The committee met on 14 March and agreed to revisit the budget in Q3, after the audit closes.',
    'Release 4.2 removes the legacy exporter; migrate to the new one before upgrading.',
  ],
  de: [
    'Die Quartalszahlen blieben weitgehend stabil: Umsatz plus 2,4 %, Betriebskosten plus 3,1 %.',
    'Am ersten Tag Altstadt und Zwinger, am zweiten Tag Elbufer, am dritten Tag Museum und frühes Abendessen.',
    'Den Ofen auf 220 °C vorheizen, 25 Minuten backen, dann bei 190 °C weitere 20 Minuten.',
    'Der Ausschuss hat am 14. März getagt und wird das Budget im dritten Quartal erneut prüfen.',
    'Version 4.2 entfernt den alten Exporter; bitte vorher auf den neuen umstellen.',
  ],
  fr: [
    'Les chiffres du trimestre sont stables : chiffre d’affaires +2,4 %, coûts d’exploitation +3,1 %.',
    'Premier jour : le Vieux-Port ; deuxième jour : les calanques ; troisième jour : le MuCEM et un dîner tôt.',
    'Préchauffer le four à 220 °C, cuire 25 minutes puis baisser à 190 °C pendant 20 minutes.',
    'Le comité s’est réuni le 14 mars et reverra le budget au troisième trimestre.',
    'La version 4.2 supprime l’ancien exporteur ; migrez avant la mise à jour.',
  ],
  es: [
    'Las cifras del trimestre fueron estables: ingresos +2,4 %, costes operativos +3,1 %.',
    'Día uno: la Alhambra; día dos: el Albaicín; día tres: un museo y una cena temprana.',
    'Precalienta el horno a 220 °C, hornea 25 minutos y baja a 190 °C otros 20.',
    'El comité se reunió el 14 de marzo y revisará el presupuesto en el tercer trimestre.',
    'La versión 4.2 elimina el exportador antiguo; migrad antes de actualizar.',
  ],
  pt: [
    'Os números do trimestre ficaram estáveis: receita +2,4 %, custos operacionais +3,1 %.',
    'Dia um: a Ribeira; dia dois: Serralves; dia três: um museu e um jantar cedo.',
    'Pré-aquece o forno a 220 °C, coze 25 minutos e baixa para 190 °C durante mais 20.',
    'A comissão reuniu-se a 14 de março e vai rever o orçamento no terceiro trimestre.',
    'A versão 4.2 remove o exportador antigo; migrem antes de atualizar.',
  ],
  it: [
    'I numeri del trimestre sono stabili: ricavi +2,4 %, costi operativi +3,1 %.',
    'Primo giorno: il centro storico; secondo giorno: Pompei; terzo giorno: un museo e una cena presto.',
    'Preriscaldare il forno a 220 °C, cuocere 25 minuti, poi abbassare a 190 °C per altri 20.',
    'Il comitato si è riunito il 14 marzo e rivedrà il budget nel terzo trimestre.',
    'La versione 4.2 rimuove il vecchio exporter; migrate prima di aggiornare.',
  ],
};

/** Phrases around a national identifier, with its local name. */
export const ID_SENTENCE: Record<string, Bank> = {
  password: {
    en: ['my password is {v}', 'the password is {v} (please change it after)', 'temporary password: {v}'],
    de: ['mein Passwort ist {v}', 'das Kennwort lautet {v}', 'Passwort: {v}'],
    fr: ['mon mot de passe est {v}', 'mot de passe : {v}', 'le mot de passe est {v}'],
    es: ['mi contraseña es {v}', 'contraseña: {v}', 'la contraseña es {v}'],
    pt: ['a minha senha é {v}', 'senha: {v}', 'a senha é {v}'],
    it: ['la mia password è {v}', 'password: {v}', 'la password è {v}'],
  },
};
