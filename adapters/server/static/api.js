// The REST memory API as the page uses it: one call() that adds the API key and the user,
// and turns every failure into one of two errors the page can say in words.

/** The server could not be reached, or did not answer in time. */
export class Unreachable extends Error {}

/** The server answered with an error (OpenAI-shaped body: {error: {message, code}}). */
export class ApiError extends Error {
    constructor(status, message, code) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

// The page lives at <server>/memory/, so the API is one folder up (also behind a proxy
// that mounts the server under a prefix).
export const SERVER = new URL('../', document.baseURI);

export class Api {
    /** key: the API key ('' on a keyless server); user: whose memory, or '' for the
     *  key's own user. A memory kept per character ("alice/character:Sera") is named by
     *  its two parts, as the API expects. */
    constructor(key, user = '') {
        this.key = key;
        this.user = user;
    }

    async call(method, path, { body, timeout = 30_000 } = {}) {
        const url = new URL(path, SERVER);
        if (this.user) {
            const [user, character] = this.user.split('/character:');
            url.searchParams.set('user', user);
            if (character) url.searchParams.set('character', character);
        }
        const headers = {};
        if (this.key) headers.Authorization = `Bearer ${this.key}`;
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        let response;
        try {
            response = await fetch(url, {
                method,
                headers,
                body: body === undefined ? undefined : JSON.stringify(body),
                signal: AbortSignal.timeout(timeout),
            });
        } catch (error) {
            const late = error.name === 'TimeoutError';
            throw new Unreachable(
                late
                    ? `The sleepmem server at ${SERVER.origin} did not answer within ${timeout / 1000} s.`
                    : `Cannot reach the sleepmem server at ${SERVER.origin}. Is “sleepmem serve” running?`,
            );
        }
        const data = await response.json().catch(() => null);
        if (!response.ok) {
            const message = data?.error?.message || `${response.status} ${response.statusText}`;
            throw new ApiError(response.status, message, data?.error?.code);
        }
        return data;
    }
}
