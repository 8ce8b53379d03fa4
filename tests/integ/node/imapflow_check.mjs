// Drive imapd with imapflow (a real Node IMAP client, as FairEmail-style
// clients use it): list, open INBOX, fetch, set a flag, then IDLE until a
// new message arrives.  Prints one JSON object with what it saw.
// Usage: node imapflow_check.mjs PORT USER PASS [idle-seconds]
import { ImapFlow } from "imapflow";

const [port, user, pass, idleSecs] = process.argv.slice(2);
const client = new ImapFlow({
	host: "127.0.0.1",
	port: Number(port),
	secure: false,
	doSTARTTLS: true,
	tls: { rejectUnauthorized: false },
	auth: { user, pass },
	logger: false,
});

const out = { list: [], messages: [], exists: null };
const timer = setTimeout(() => {
	console.log(JSON.stringify({ error: "timeout", ...out }));
	process.exit(2);
}, 60000);

await client.connect();
for (const box of await client.list())
	out.list.push({ path: box.path, specialUse: box.specialUse || null });
const lock = await client.getMailboxLock("INBOX");
try {
	out.uidValidity = Number(client.mailbox.uidValidity);
	out.count = client.mailbox.exists;
	for await (const msg of client.fetch("1:*", { uid: true, flags: true,
	    envelope: true, source: true, size: true })) {
		out.messages.push({
			uid: msg.uid,
			flags: [...msg.flags],
			subject: msg.envelope.subject,
			from: msg.envelope.from?.[0]?.address,
			size: msg.size,
			sourceLength: msg.source.length,
		});
	}
	if (out.messages.length > 0) {
		await client.messageFlagsAdd({ uid: out.messages[0].uid },
		    ["\\Flagged"], { uid: true });
	}
	if (idleSecs) {
		// Tell the test we are idling; it then delivers a message.
		console.error("IDLING");
		let idleTimer;
		out.exists = await new Promise((resolve) => {
			client.on("exists", (d) => resolve(d.count));
			idleTimer = setTimeout(() => resolve(null),
			    Number(idleSecs) * 1000);
			client.idle();
		});
		clearTimeout(idleTimer);	/* else node lives on until it fires */
	}
} finally {
	lock.release();
}
await client.logout();
clearTimeout(timer);
console.log(JSON.stringify(out));
