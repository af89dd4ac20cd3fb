/** The page's two DOM helpers: an element by id, and a status line's text. */

/** The element with this id (the page's HTML has every id the scripts ask for). */
export const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Show `text` in a status element, marked as an error or not. */
export function show(target: HTMLElement, text: string, isError = false): void {
  target.textContent = text;
  target.classList.toggle('error', isError);
}
