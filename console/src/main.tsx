import { render } from "preact";
import "./styles.css";
import { startAuth } from "./auth";
import { App, SignInPage, StartFailed } from "./app";

const root = document.getElementById("app");
if (root) {
  startAuth()
    .then((auth) => render(auth.account ? <App auth={auth} /> : <SignInPage auth={auth} />, root))
    .catch((err: unknown) => render(<StartFailed error={err} />, root));
}
